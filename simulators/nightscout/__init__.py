"""A Nightscout (cgm-remote-monitor 15.0.7) test server: API v3, a minimal API v1 and the v2
authorization endpoints, in memory, rejecting what the real server rejects.

    server = NightscoutTestServer(api_secret="test-secret-12chars")
    await server.start()
    token = server.create_access_token("sink", permissions=["api:*:create", "api:*:update"])
    server.faults = Faults(error_rate=0.3, seed=1)
    server.store.documents("entries", include_deleted=True)
    await server.stop()
"""

from nightstream.simulators.nightscout.faults import Faults
from nightstream.simulators.nightscout.identifiers import IDENTIFIER_NAMESPACE, calculate_identifier
from nightstream.simulators.nightscout.server import NightscoutTestServer
from nightstream.simulators.nightscout.sites import HostedSite, MultiSiteTestServer
from nightstream.simulators.nightscout.stats import RequestKey, RequestStats
from nightstream.simulators.nightscout.storage import DocumentStore

__all__ = [
    "IDENTIFIER_NAMESPACE",
    "DocumentStore",
    "Faults",
    "HostedSite",
    "MultiSiteTestServer",
    "NightscoutTestServer",
    "RequestKey",
    "RequestStats",
    "calculate_identifier",
]
