"""One document on its way to one site."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import TopicPartition

from nightstream.schemas.documents import NsRecord
from nightstream.sinks.nightscout.delivery.offset_progress import OffsetProgress


@dataclass(frozen=True, slots=True, eq=False)
class Delivery:
    record: NsRecord
    tp: TopicPartition
    offset: int
    epoch: int
    """The assignment of ``tp`` it was read in: a delivery from an earlier one is never sent."""
    progress: OffsetProgress
    """Told when the site answered: the live readers' partition, or a catch-up's own."""

    def settle(self) -> None:
        self.progress.settle(self.offset)
