"""Routes are redone only when a binding or a run-time link changed, and then at once.

At 10,000 sites, redoing them at every sync (every 2 s, or at once for a document with no
route) was a third of the sink's CPU; the version check must not miss a change either.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from nightstream.schemas.bindings import StreamBindings
from nightstream.schemas.serde import make_serde
from nightstream.schemas.topics import TopicNames, topic_catalog
from nightstream.sinks.nightscout.delivery.site_routes import SiteRoutes
from nightstream.topics_admin import ensure_topics
from tests.integration.topic_records import bind_streams
from tests.kafka_broker import KafkaNames

pytestmark = pytest.mark.kafka

HOME = "nightstream://dexcomshare/home"
CLINIC = "nightstream://dexcomshare/clinic"


class Links:
    """Each site's links, as the file and the links topic give them, with their version."""

    def __init__(self) -> None:
        self.of_sites = {"home": frozenset({"link-home"}), "clinic": frozenset[str]()}
        self.version = 0
        self.asked = 0

    def __call__(self) -> dict[str, frozenset[str]]:
        self.asked += 1
        return dict(self.of_sites)


@pytest.fixture
async def prefix(kafka_bootstrap: str, kafka_names: KafkaNames) -> str:
    name = kafka_names.name("routes")
    await ensure_topics(kafka_bootstrap, topic_catalog(name, partitions=1))
    await bind_streams(kafka_bootstrap, name, {"link-home": HOME, "link-clinic": CLINIC})
    return name


@pytest.fixture
async def bindings(kafka_bootstrap: str, prefix: str) -> AsyncIterator[StreamBindings]:
    topic = TopicNames(prefix).bindings
    table = StreamBindings(
        kafka_bootstrap, topic, make_serde("stream_binding", subject=f"{topic}-value")
    )
    await table.start()
    yield table
    await table.stop()


async def test_routes_are_redone_only_when_bindings_or_links_changed(
    kafka_bootstrap: str, prefix: str, bindings: StreamBindings
) -> None:
    links = Links()
    routes = SiteRoutes(links, bindings, lambda: links.version)
    assert await routes.refresh() == ({("home", HOME)}, set())
    assert links.asked == 1

    for _ in range(3):
        assert routes.sites_of("nightstream://dexcomshare/unknown") == frozenset()
        assert await routes.refresh() is None, "a document with no route syncs, nothing changed"
    assert links.asked == 1, "nothing changed: the routes were not computed again"

    links.of_sites["clinic"] = frozenset({"link-clinic"})  # a link added at run time
    links.version += 1
    routes.sites_of("nightstream://dexcomshare/unknown")
    assert await routes.refresh() == ({("clinic", CLINIC)}, set())
    assert routes.sites_of(CLINIC) == {"clinic"}

    # A binding read from the topic: the home link now reads the clinic's stream as well.
    await bind_streams(kafka_bootstrap, prefix, {"link-home": CLINIC})
    routes.sites_of("nightstream://dexcomshare/unknown")
    assert await routes.refresh() == ({("home", CLINIC)}, {("home", HOME)})
    assert routes.sites_of(CLINIC) == {"home", "clinic"}
    assert links.asked == 3
