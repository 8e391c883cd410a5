"""A catch-up: one site reading one partition again, from where it stands, on its own.

Three things need one: a site new to a stream (a link added, a new site) needs the stream's
history, up to where the live readers are (``until``); a site parked for not answering, or
too slow, needs everything of its streams from its last acknowledged document until it is
back with the live readers (``until`` None until then, see ``hand_over``); a replay is the
same thing. Each tracks what its site settled (``progress``), which is where it resumes after
a restart or on another instance.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import TopicPartition

from nightstream.sinks.nightscout.delivery.offset_progress import OffsetProgress
from nightstream.sinks.nightscout.delivery.progress_store import SavedCatchUp


@dataclass(eq=False)
class CatchUp:
    site: str
    tp: TopicPartition
    until: int | None
    """Read up to here (exclusive); None: until the live readers are reached."""
    streams: frozenset[str] | None
    """Only these streams; None: every stream routed to the site."""
    progress: OffsetProgress
    read_next: int

    @classmethod
    def starting(
        cls,
        site: str,
        tp: TopicPartition,
        start: int,
        until: int | None = None,
        streams: frozenset[str] | None = None,
    ) -> CatchUp:
        return cls(site, tp, until, streams, OffsetProgress(start), start)

    @classmethod
    def restored(cls, site: str, tp: TopicPartition, saved: SavedCatchUp) -> CatchUp:
        return cls.starting(site, tp, saved.start, saved.until, saved.streams)

    def saved(self) -> SavedCatchUp:
        return SavedCatchUp(self.progress.point(), self.until, self.streams)

    @property
    def follows_live(self) -> bool:
        """Still to hand over to the live readers (the site skips them meanwhile)."""
        return self.until is None

    @property
    def reading_done(self) -> bool:
        return self.until is not None and self.read_next >= self.until

    @property
    def finished(self) -> bool:
        return self.reading_done and self.progress.point() >= (self.until or 0)

    def restart_from(self, offset: int) -> None:
        start = min(offset, self.progress.point())
        self.progress.reset(start)
        self.read_next = start

    def advance(self, to: int) -> None:
        """Everything before ``to`` was read (and handed out where wanted)."""
        if self.until is not None:
            to = min(to, self.until)
        if to > self.read_next:
            self.read_next = to
            self.progress.next_offset = max(self.progress.next_offset, to)

    def hand_over(self) -> int:
        """The site rejoins the live readers at ``read_next``: this catch-up ends there."""
        self.until = self.read_next
        return self.read_next
