"""Tandem Source pump-log answers -> Nightscout ``entries``, ``treatments`` and ``devicestatus``.

The body is ``{events: [...], clockChanges: [...]}`` (vendors-tandem.md §1.6, §2.2). Each event
of a mapped code becomes at most one document (``documents.py`` says which and why); events of
other codes are passed over (the raw topic keeps them). Pump times are the pump's wall clock
with no zone: they are read in the link's IANA zone (``RawPayload.source_tz``), which the poller
always sets; a payload without one is rejected whole rather than guessed.

``clockChanges`` (events 13/14) are not used: like tconnectsync, an event's time is its wall
clock read in the configured zone; a pump whose clock was set to another zone shifts by that
much until its clock and the link's zone agree again.

Each bad event is rejected on its own with its exact bytes; the rest goes on. An event repeated
(same sequence group and number) collapses when identical; otherwise the first is kept and the
later one rejected; two documents with one identifier likewise.
"""

from __future__ import annotations

import itertools
import re
import zoneinfo
from typing import Any

from nightstream.schemas.documents import Collection, NsDocument, NsRecord
from nightstream.schemas.errors import BadRecordError
from nightstream.schemas.identity import device_name
from nightstream.schemas.records import RawPayload
from nightstream.streams.json_text import Located, elements, json_kind, located_utf8
from nightstream.streams.json_values import member_of_kind
from nightstream.streams.tandem.codes import BASAL_DELIVERY
from nightstream.streams.tandem.documents import BUILDERS, Built, Context, temp_basal
from nightstream.streams.tandem.events import PumpEvent, read_event
from nightstream.streams.tandem.values import PumpClock
from nightstream.streams.transform import Rejected, TransformOutput, stream_digest

VENDOR = "tandem"
_CODE = re.compile(r"[A-Za-z0-9_./ -]{1,60}", re.ASCII)


class _Collector:
    def __init__(self) -> None:
        self.documents: dict[tuple[Collection, str], NsDocument] = {}
        self.rejected: list[Rejected] = []

    def reject(self, where: str, reason: str, node: Located) -> None:
        self.rejected.append(Rejected(f"{where}: {reason}", node.fragment))

    def add(self, where: str, built: Built, node: Located) -> None:
        if built is None:
            return
        collection, document = built
        key = (collection, str(document["identifier"]))
        earlier = self.documents.setdefault(key, document)
        if earlier != document:
            self.reject(
                where,
                f"same identifier as an earlier event ({earlier.get('pump_event_id')}) with "
                "different content; the earlier one was kept",
                node,
            )

    def output(self, stream: str) -> TransformOutput:
        ordered = sorted(
            self.documents.items(), key=lambda kept: (kept[0][0].value, kept[1]["date"])
        )
        records = [NsRecord(collection, stream, document) for (collection, _), document in ordered]
        return TransformOutput(records=records, rejected=self.rejected)


def transform(raw: RawPayload) -> TransformOutput:
    try:
        context = Context(device_name(VENDOR, stream_digest(raw)), _clock(raw), raw.fetched_at_ms)
        events = _events(raw)
    except BadRecordError as exc:
        return TransformOutput(rejected=[Rejected(exc.reason, raw.body)])
    collector = _Collector()
    kept = _checked_events(events, context, collector)
    unique = {e.key: e for e, _, _ in kept if e.code == BASAL_DELIVERY}
    basal = sorted(unique.values(), key=lambda e: e.date_ms)
    next_basal = {this.key: after.date_ms for this, after in itertools.pairwise(basal)}
    for event, where, node in kept:
        try:
            if event.code == BASAL_DELIVERY:
                built = temp_basal(event, context, next_basal.get(event.key))
            else:
                built = BUILDERS[event.code](event, context)
        except BadRecordError as exc:
            collector.reject(where, exc.reason, node)
            continue
        collector.add(where, built, node)
    return collector.output(context.device)


def _checked_events(
    events: Located, context: Context, collector: _Collector
) -> list[tuple[PumpEvent, str, Located]]:
    """Events of mapped codes whose envelope is sound, each sequence number once."""
    kept: list[tuple[PumpEvent, str, Located]] = []
    seen: dict[tuple[int, int], Any] = {}
    for index, node in enumerate(elements(events)):
        where = f"events[{index}]"
        try:
            event = read_event(node.value, context.clock, context.fetched_at_ms)
        except BadRecordError as exc:
            collector.reject(where, exc.reason, node)
            continue
        if event is None:
            continue
        earlier = seen.setdefault(event.key, node.value)
        if earlier is not node.value and earlier != node.value:
            collector.reject(
                where,
                f"sequence number {event.sequence} repeats an earlier event with different "
                "content; the earlier one was kept",
                node,
            )
            continue
        # An identical repeat is built again: it collapses into the same document, or is
        # rejected again (each copy is in the body and each must be accounted for).
        kept.append((event, where, node))
    return kept


def _clock(raw: RawPayload) -> PumpClock:
    zone = raw.source_tz
    try:
        return PumpClock(zoneinfo.ZoneInfo(zone or ""))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise BadRecordError(
            f"source_tz {zone!r} is not an IANA time zone: pump times cannot be placed "
            "(set timezone for this link and replay)"
        ) from None


def _events(raw: RawPayload) -> Located:
    body = located_utf8(raw.body)
    if not 200 <= raw.http_status <= 299:
        raise BadRecordError(f"HTTP {raw.http_status} from Tandem Source{_refusal(body)}")
    if body is None:
        raise BadRecordError("body is not UTF-8 JSON: no pump events")
    if not isinstance(body.value, dict):
        raise BadRecordError(f"body is a JSON {json_kind(body.value)}, expected an object")
    return member_of_kind(body, "events", list, "an array")


def _refusal(body: Located | None) -> str:
    """`` (message ...)`` with the vendor's short message word, never free text."""
    message = (
        body.value.get("message") if body is not None and isinstance(body.value, dict) else None
    )
    if isinstance(message, str) and _CODE.fullmatch(message):
        return f" (message {message})"
    return ""
