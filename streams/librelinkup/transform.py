"""LibreLinkUp graph answers -> Nightscout ``entries`` and ``Sensor Start`` treatments.

The body is ``{status, data: {connection, activeSensors, graphData}, ticket}``:

- ``data.connection.glucoseMeasurement``: the current reading (changes every minute, with a
  trend arrow) -> one entry with ``direction``;
- ``data.graphData``: ~12 h of history, oldest first, lagging 15-20 min, no arrows -> entries;
- ``data.connection.sensor`` and ``data.activeSensors[].sensor``: the activation time of the
  sensors -> one ``Sensor Start`` treatment per distinct activation.

How each becomes a document is in ``entries.py`` and ``sensors.py``. Each bad item is rejected
on its own with its exact bytes; the rest goes on. Nothing is invented: no battery, insulin or
IOB (LibreLinkUp has none), no arrows for history.

Two items with the same timestamp collapse into one document when they agree; a history point
equal to the current reading but for its arrow collapses into the current reading, which is
seen first. Otherwise the first is kept and the later one rejected.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from nightstream.schemas.documents import Collection, NsDocument, NsRecord
from nightstream.schemas.errors import BadRecordError
from nightstream.schemas.identity import device_name
from nightstream.schemas.records import RawPayload
from nightstream.streams.json_text import Located, elements, json_kind, located_utf8, member
from nightstream.streams.json_values import member_of_kind, shown
from nightstream.streams.librelinkup.entries import entry
from nightstream.streams.librelinkup.sensors import sensor_start
from nightstream.streams.transform import Rejected, TransformOutput, stream_digest

VENDOR = "librelinkup"

_CODE = re.compile(r"[A-Za-z0-9_.-]{1,80}", re.ASCII)
Build = Callable[[Any], NsDocument]


class _Collector:
    """Documents by identifier, and what had to be rejected, in the order seen."""

    def __init__(self) -> None:
        self.documents: dict[str, tuple[Collection, NsDocument]] = {}
        self.rejected: list[Rejected] = []

    def add(self, collection: Collection, where: str, node: Located, build: Build) -> None:
        try:
            document = build(node.value)
        except BadRecordError as exc:
            self.rejected.append(Rejected(f"{where}: {exc.reason}", node.fragment))
            return
        _, earlier = self.documents.setdefault(document["identifier"], (collection, document))
        if _without_direction(earlier) != _without_direction(document):
            self.rejected.append(
                Rejected(
                    f"{where}: same time as an earlier item ({earlier['date']}) with different "
                    "content; the earlier one was kept",
                    node.fragment,
                )
            )

    def reject_part(self, where: str, node: Located, expected: str) -> None:
        reason = f"{where} is a JSON {json_kind(node.value)}, expected {expected}"
        self.rejected.append(Rejected(reason, node.fragment))

    def output(self, stream: str) -> TransformOutput:
        ordered = sorted(
            self.documents.values(), key=lambda kept: (kept[0].value, int(kept[1]["date"]))
        )
        records = [NsRecord(collection, stream, document) for collection, document in ordered]
        return TransformOutput(records=records, rejected=self.rejected)


def transform(raw: RawPayload) -> TransformOutput:
    try:
        device = device_name(VENDOR, stream_digest(raw))
        data = _graph_data(raw)
    except BadRecordError as exc:
        return TransformOutput(rejected=[Rejected(exc.reason, raw.body)])
    fetched_at = raw.fetched_at_ms
    collector = _Collector()

    def reading(current: bool) -> Build:
        return lambda item: entry(item, device, fetched_at, current=current)

    def sensor(value: Any) -> NsDocument:
        return sensor_start(value, device, fetched_at)

    connection = _object_member(collector, data, "connection", "data.connection")
    if connection is not None:
        current = _present(member(connection, "glucoseMeasurement"))
        where = "data.connection.glucoseMeasurement"
        if current is not None:
            collector.add(Collection.ENTRIES, where, current, reading(True))
    _add_history(collector, data, reading(False))
    _add_sensors(collector, data, connection, sensor)
    return collector.output(device)


def _add_history(collector: _Collector, data: Located, build: Build) -> None:
    history = member(data, "graphData")
    if history is None:
        collector.rejected.append(Rejected("data.graphData is missing", data.fragment))
        return
    if history.value is None:
        return
    if not isinstance(history.value, list):
        collector.reject_part("data.graphData", history, "an array")
        return
    for index, point in enumerate(elements(history)):
        collector.add(Collection.ENTRIES, f"data.graphData[{index}]", point, build)


def _add_sensors(
    collector: _Collector, data: Located, connection: Located | None, build: Build
) -> None:
    worn = None if connection is None else _present(member(connection, "sensor"))
    if worn is not None:
        collector.add(Collection.TREATMENTS, "data.connection.sensor", worn, build)
    active = _present(member(data, "activeSensors"))
    if active is None:
        return
    if not isinstance(active.value, list):
        collector.reject_part("data.activeSensors", active, "an array")
        return
    for index, pair in enumerate(elements(active)):
        where = f"data.activeSensors[{index}]"
        if not isinstance(pair.value, dict):
            collector.reject_part(where, pair, "an object")
            continue
        sensor = _present(member(pair, "sensor"))
        if sensor is not None:
            collector.add(Collection.TREATMENTS, f"{where}.sensor", sensor, build)


def _present(node: Located | None) -> Located | None:
    """``node`` unless it is absent or JSON null (no reading yet, no sensor worn)."""
    return None if node is None or node.value is None else node


def _object_member(collector: _Collector, node: Located, name: str, where: str) -> Located | None:
    child = _present(member(node, name))
    if child is not None and not isinstance(child.value, dict):
        collector.reject_part(where, child, "an object")
        return None
    return child


def _graph_data(raw: RawPayload) -> Located:
    """The ``data`` object of a successful graph answer; BadRecordError for anything else."""
    body = located_utf8(raw.body)
    envelope = body.value if body is not None else None
    if not 200 <= raw.http_status <= 299:
        raise BadRecordError(f"HTTP {raw.http_status} from LibreLinkUp{_refusal(envelope)}")
    if body is None:
        raise BadRecordError("body is not UTF-8 JSON: no graph")
    if not isinstance(envelope, dict):
        raise BadRecordError(f"body is a JSON {json_kind(envelope)}, expected an object")
    if envelope.get("status") != 0:
        raise BadRecordError(f"LibreLinkUp answered{_refusal(envelope)}: no graph")
    return member_of_kind(body, "data", dict, "an object")


def _refusal(envelope: Any) -> str:
    """`` with status N, ...`` naming the vendor's code words for a reason; never free text."""
    if not isinstance(envelope, dict):
        return ""
    status = envelope.get("status")
    parts = [f"status {shown(status)}"] if type(status) is int else []
    data, error = envelope.get("data"), envelope.get("error")
    for label, value in (
        ("minimumVersion", data.get("minimumVersion") if isinstance(data, dict) else None),
        ("error", error.get("message") if isinstance(error, dict) else None),
        ("message", envelope.get("message")),
    ):
        if isinstance(value, str) and _CODE.fullmatch(value):
            parts.append(f"{label} {value}")
    return f" with {', '.join(parts)}" if parts else ""


def _without_direction(document: NsDocument) -> NsDocument:
    return {name: value for name, value in document.items() if name != "direction"}
