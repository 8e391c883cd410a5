"""``nightstream run`` with no Kafka configured: the project's own single-node broker, started
before the roles, restarted if it dies, stopped after them (on Ctrl-C and SIGTERM too).

One person with one CGM needs no Kafka of their own to run: Java and the package suffice. The
broker keeps its data in the user data directory, so a restart of nightstream resumes where it
stopped. A broker that dies more than ``RESTART_LIMIT`` times within ``RESTART_WINDOW_S`` is not
started again: nightstream stops with one message naming the broker's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

from nightstream.config import Settings
from nightstream.local_kafka.broker import BrokerError, BrokerOptions, LocalBroker
from nightstream.local_kafka.jars import JarFetchError, fetch_jars, read_lock
from nightstream.local_kafka.java import JavaMissing, require_java
from nightstream.local_kafka.paths import data_root
from nightstream.local_kafka.processes import sigterm_unwinds
from nightstream.schemas.errors import NightstreamError

logger = logging.getLogger(__name__)

RESTART_LIMIT = 5
RESTART_WINDOW_S = 600.0
WATCH_INTERVAL_S = 1.0


class OwnBrokerError(NightstreamError):
    """The own broker could not be started, or kept dying."""


def kafka_configured(settings: Settings) -> bool:
    """Whether the file or the environment names a Kafka (``kafka.bootstrap_servers``)."""
    return "bootstrap_servers" in settings.kafka.model_fields_set


def broker_directory() -> Path:
    return data_root() / "kafka"


class OwnBroker:
    """The running broker, and the role that keeps it running."""

    def __init__(self, broker: LocalBroker, java: str, libs: Path) -> None:
        self.broker = broker
        self._java = java
        self._libs = libs
        self._deaths: list[float] = []

    def settings_for(self, settings: Settings) -> Settings:
        """``settings`` on this broker, with the processor's and the sink's state kept beside
        its data (unless set), so that a restart resumes without rebuilding them."""
        kafka = settings.kafka.model_copy(update={"bootstrap_servers": self.broker.bootstrap})
        processor, sink = settings.processor, settings.sink
        if processor.state_dir is None:
            processor = processor.model_copy(update={"state_dir": data_root() / "processor"})
        if sink.state_dir is None:
            sink = sink.model_copy(update={"state_dir": data_root() / "sink"})
        return settings.model_copy(update={"kafka": kafka, "processor": processor, "sink": sink})

    async def supervise(self, stop: asyncio.Event) -> None:
        """Until ``stop``: start the broker again whenever it exits. Runs in the main thread's
        loop, so that the restarted broker, like the first, goes when this process goes."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), WATCH_INTERVAL_S)
            code = self.broker.exit_code()
            if stop.is_set() or code is None:
                continue
            self._restart_or_give_up(code)
            self.broker.spawn(self._java, self._libs, attached=True)
            try:
                await self.broker.wait_ready_async()
            except BrokerError as exc:
                raise OwnBrokerError(
                    f"the local Kafka broker could not be restarted: {exc}"
                ) from None
            logger.warning("the local Kafka broker is back on %s", self.broker.bootstrap)

    def _restart_or_give_up(self, code: int) -> None:
        now = time.monotonic()
        self._deaths = [t for t in self._deaths if now - t < RESTART_WINDOW_S] + [now]
        if len(self._deaths) > RESTART_LIMIT:
            raise OwnBrokerError(
                f"the local Kafka broker exited {len(self._deaths)} times within "
                f"{RESTART_WINDOW_S / 60:.0f} minutes (last exit code {code}); not starting it "
                f"again: see {self.broker.log_path}"
            )
        logger.error(
            "the local Kafka broker exited (code %d); starting it again (log: %s)",
            code,
            self.broker.log_path,
        )


@contextlib.contextmanager
def own_broker(settings: Settings) -> Iterator[OwnBroker | None]:
    """None when Kafka is configured; otherwise the own broker, running for the block."""
    if kafka_configured(settings):
        yield None
        return
    directory = broker_directory()
    broker = LocalBroker(directory, BrokerOptions(profile="small"))
    with sigterm_unwinds():
        try:
            java = require_java()
            libs = fetch_jars(logger.info)
            broker.start(logger.info, attached=True)
            logger.info(
                "no Kafka configured: started nightstream's own Kafka %s broker (pid %s) on %s, "
                "data in %s; it stops with nightstream",
                read_lock().kafka_version,
                broker.pid(),
                broker.bootstrap,
                broker.data_path,
            )
            yield OwnBroker(broker, java, libs)
        except JavaMissing as exc:
            raise OwnBrokerError(
                f"no Kafka configured, so nightstream runs its own: {exc}"
            ) from None
        except (BrokerError, JarFetchError) as exc:
            raise OwnBrokerError(
                f"no Kafka configured, and the local broker failed: {exc}"
            ) from None
        finally:
            pid = broker.stop()
            if pid is not None:
                logger.info("stopped the local Kafka broker (pid %d)", pid)
