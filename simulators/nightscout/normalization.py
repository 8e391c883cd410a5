"""What the server does to a document before validating or storing it, and before showing it."""

from __future__ import annotations

import logging
import math
from typing import Any

from nightstream.simulators.nightscout import js_semantics as js
from nightstream.simulators.nightscout.collection_specs import CollectionSpec
from nightstream.simulators.nightscout.dates import parse_js_date, parse_to_moment, to_iso_string
from nightstream.simulators.nightscout.identifiers import calculate_identifier

logger = logging.getLogger(__name__)


def parse_date(document: dict[str, Any], *, created_at_fallback: bool) -> None:
    """`collection.parseDate`: ``date`` (or else ``created_at``) becomes epoch ms, ``utcOffset``
    is filled from the parsed offset when absent, ``created_at`` becomes the UTC ISO of ``date``.
    Unparseable values are left alone for validation to reject."""
    if js.is_empty(document):
        return
    candidates = [document.get("date", js.UNDEFINED)]
    if created_at_fallback:
        candidates.append(document.get("created_at", js.UNDEFINED))
    parsed = parse_to_moment(candidates)
    if parsed is None:
        return
    document["date"] = parsed.epoch_ms
    if "utcOffset" not in document:
        document["utcOffset"] = parsed.utc_offset_minutes
    if created_at_fallback:
        document["created_at"] = to_iso_string(parsed.epoch_ms)
    else:
        document.pop("created_at", None)


def resolve_identifier(document: dict[str, Any]) -> None:
    """Compute the identifier when none was sent; a client's identifier always wins."""
    calculated = calculate_identifier(document)
    sent = document.get("identifier", js.UNDEFINED)
    if js.is_truthy(sent):
        if not js.strict_equals(sent, calculated):
            logger.debug("identifier mismatch (expected %s, received %s)", calculated, sent)
    else:
        document["identifier"] = calculated


def resolve_dates(spec: CollectionSpec, document: dict[str, Any]) -> int | None:
    """`collection.resolveDates`: the modification time in ms; documents without
    ``srvModified`` get virtual ``srvModified``/``srvCreated`` from the fallback date field."""
    modified: int | None = None
    stored_modified = document.get("srvModified")
    if js.is_truthy(stored_modified):
        modified = _as_date_ms(stored_modified)
    else:
        modified = spec.fallback_modified_ms(document)
        if modified is not None:
            document["srvModified"] = modified
    if js.is_truthy(document.get("srvModified")) and not js.is_truthy(document.get("srvCreated")):
        document["srvCreated"] = modified
    return modified


def _as_date_ms(value: Any) -> int | None:
    """``new Date(value).getTime()``."""
    if js.is_number(value):
        return js.truncate_to_date_ms(float(value))
    if isinstance(value, str):
        return parse_js_date(value)
    return None


def _to_mills(value: Any) -> float | None:
    """`treatmentDuration.toMills`."""
    if js.is_nullish(value):
        return None
    if js.is_number(value):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and js.js_trim(value) == "":
        return None
    numeric = js.to_number(value)
    if math.isfinite(numeric):
        return numeric
    parsed = _as_date_ms(value)
    return float(parsed) if parsed is not None else None


def _first_mills(*values: Any) -> float | None:
    for value in values:
        mills = _to_mills(value)
        if mills is not None:
            return mills
    return None


def normalize_treatment_duration(
    document: dict[str, Any], fallback: dict[str, Any] | None = None
) -> None:
    """`lib/treatmentDuration.js`: derive ``endmills`` from ``duration`` (minutes) or
    ``durationInMilliseconds``, then re-derive both durations from ``endmills``. Runs on
    every v3 replace and patch, whatever the collection."""
    previous = fallback or {}
    base = _first_mills(
        document.get("mills"),
        previous.get("mills"),
        document.get("created_at"),
        document.get("date"),
        previous.get("created_at"),
        previous.get("date"),
    )
    if js.is_nullish(document.get("endmills", js.UNDEFINED)) and base is not None:
        for source in (document, previous):
            if "durationInMilliseconds" in source:
                duration_ms = js.to_number(source["durationInMilliseconds"])
                if duration_ms > 0:
                    document["endmills"] = js.normalize_number(base + duration_ms)
                break
            if "duration" in source:
                minutes = js.to_number(source["duration"])
                minutes = 0.0 if math.isnan(minutes) else minutes
                document["endmills"] = js.normalize_number(base + minutes * 60_000)
                break
    end = js.to_number(document["endmills"]) if "endmills" in document else math.nan
    if base is not None and math.isfinite(base) and math.isfinite(end) and end >= base:
        duration_ms = end - base
        document["durationInMilliseconds"] = js.normalize_number(duration_ms)
        document["duration"] = js.normalize_number(_js_round(duration_ms / 60_000))


def _js_round(value: float) -> float:
    """``Math.round``: halves round towards +infinity."""
    return float(math.floor(value + 0.5))
