"""Everything one running test server holds, shared by the request handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from aiohttp import web

from nightstream.simulators.nightscout.auth import AccessControl, FailedAuthDelays
from nightstream.simulators.nightscout.faults import FaultInjector, Faults
from nightstream.simulators.nightscout.settings import ServerSettings
from nightstream.simulators.nightscout.stats import RequestStats
from nightstream.simulators.nightscout.storage import DocumentStore


@dataclass
class ServerState:
    settings: ServerSettings
    access: AccessControl
    delays: FailedAuthDelays
    store: DocumentStore = field(default_factory=DocumentStore)
    stats: RequestStats = field(default_factory=RequestStats)
    fault_injector: FaultInjector = field(default_factory=FaultInjector)
    # Set when the server stops, so hanging requests let go.
    stopping: bool = False

    def set_faults(self, faults: Faults) -> None:
        """Replace the fault settings; the seeded random stream starts over."""
        self.fault_injector = FaultInjector(faults)

    @classmethod
    def create(cls, settings: ServerSettings) -> ServerState:
        return cls(
            settings=settings,
            access=AccessControl(settings),
            delays=FailedAuthDelays(settings.auth_fail_delay_seconds),
        )


STATE_KEY: Final = web.AppKey("nightscout_state", ServerState)
