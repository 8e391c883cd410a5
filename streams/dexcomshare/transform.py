"""Dexcom Share ``ReadPublisherLatestGlucoseValues`` answers -> Nightscout ``entries`` documents.

The body is a JSON array of ``{WT, ST, DT, Value, Trend}`` (newest first). Each valid element
becomes one ``sgv`` entry; each invalid one is rejected on its own with its original bytes.

Decisions (the reasons are in the reference, vendors-dexcom-libre.md §1.5-1.9 and §5):

- ``date`` comes from ``WT``; ``ST`` is ignored and ``DT`` only gives ``utcOffset`` (its
  ``±hhmm`` suffix; none means UTC, as .NET writes UTC times). An item without a usable ``DT``
  is rejected rather than given offset 0: Nightscout never lets a client change ``utcOffset``
  afterwards, so a guessed offset could not be corrected by a replay.
- ``Value`` must be a whole number in [``MIN_SGV``, ``MAX_SGV``]. Dexcom clamps readings to
  40 (LOW) and 400 (HIGH); one step of slack each side covers bridges that write LOW/HIGH as
  39/401. Anything else is an error code or corruption, and goes to the dead-letter topic.
- ``Trend`` must be a string or an integer. A value outside the known vocabulary becomes
  ``NONE`` (trend 0), as every peer does: losing the glucose value over an arrow is worse, and
  ``direction`` stays mutable in Nightscout, so a later fix reaches it by replay.
- ``date`` must be after 2000-01-01 (Nightscout rejects anything else) and at most
  ``MAX_AHEAD_MS`` after the poll; a reading "from the future" is a time-zone or clock bug, and
  ``date`` is both immutable and part of the identifier. A rejected recent reading comes back
  in the next polls' 24 h window.
- Several items with the same ``WT`` collapse to one document when identical; otherwise the
  first (newest-first order, so the most recent answer) is kept and the others are rejected.
"""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any, NamedTuple

from nightstream.schemas.documents import Collection, NsDocument, NsRecord
from nightstream.schemas.glucose_values import DIRECTIONS, MAX_AHEAD_MS, MIN_DATE_MS_EXCLUSIVE
from nightstream.schemas.identity import device_name, entry_identifier
from nightstream.schemas.records import RawPayload
from nightstream.streams.json_text import utf8_text
from nightstream.streams.transform import APP_NAME, Rejected, TransformOutput, json_int

VENDOR = "dexcomshare"

MIN_SGV = 39
MAX_SGV = 401
# Last millisecond that still has a four-digit year in an ISO-8601 dateString.
_MAX_DATE_MS = 253_402_300_799_999
MAX_OFFSET_MINUTES = 14 * 60

# Dexcom spells them "NotComputable", Nightscout "NOT COMPUTABLE": compare without case/spaces.
_TREND_BY_KEY = {"".join(name.split()).lower(): trend for trend, name in enumerate(DIRECTIONS)}
_UNKNOWN_TREND = 0

# .NET JSON dates: "Date(ms)", "Date(ms-hhmm)", and before ~2020 "/Date(ms)/" (both slashes).
_DOTNET_DATE = re.compile(r"(/?)Date\((-?[0-9]{1,20})(?:([+-])([0-9]{2})([0-9]{2}))?\)\1", re.ASCII)
_STREAM_DIGEST = re.compile(r"[0-9a-f]{12}", re.ASCII)
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,80}", re.ASCII)
_JSON_WHITESPACE = " \t\n\r"
_DECODER = json.JSONDecoder(parse_int=json_int)


class _Invalid(Exception):
    """One item (or the whole payload) cannot become a document; the message says why."""


class _DotNetDate(NamedTuple):  # a tuple: two per reading, a frozen dataclass costs more
    ms: int
    offset_minutes: int | None


def transform(raw: RawPayload) -> TransformOutput:
    out = TransformOutput()
    try:
        device = device_name(VENDOR, _stream_digest(raw))
        items = _body_items(raw)
    except _Invalid as exc:
        out.rejected.append(Rejected(str(exc), raw.body))
        return out

    kept: dict[str, NsDocument] = {}
    for index, (item, fragment) in enumerate(items):
        try:
            document = _document(item, device, raw.fetched_at_ms)
        except _Invalid as exc:
            out.rejected.append(Rejected(f"items[{index}]: {exc}", fragment))
            continue
        earlier = kept.setdefault(document["identifier"], document)
        if earlier != document:
            out.rejected.append(
                Rejected(
                    f"items[{index}]: same WT ({document['dateString']}) as an earlier item "
                    "with different content; the earlier one was kept",
                    fragment,
                )
            )

    for document in sorted(kept.values(), key=lambda d: int(d["date"])):
        out.records.append(NsRecord(Collection.ENTRIES, device, document))
    return out


def _stream_digest(raw: RawPayload) -> str:
    digest = raw.request_params.get("stream")
    if digest is None or not _STREAM_DIGEST.fullmatch(digest):
        raise _Invalid(
            "request_params has no valid stream digest (12 lowercase hex): "
            "the documents' device and identifiers cannot be named"
        )
    return digest


def _body_items(raw: RawPayload) -> list[tuple[Any, bytes]]:
    if not 200 <= raw.http_status <= 299:
        code = _error_code(_json_or_none(raw.body))
        suffix = f", Dexcom error code {code}" if code else ""
        raise _Invalid(f"HTTP {raw.http_status} from Dexcom Share{suffix}: no readings")
    if not raw.body.strip():
        raise _Invalid("empty body (what Dexcom answers for an unusable session): no readings")
    text = _decode_text(raw.body)
    elements = _array_elements(text)
    if elements is not None:
        return elements
    try:
        value = _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        raise _Invalid(f"body is not valid JSON: {_shorten(str(exc))}") from None
    if isinstance(value, dict) and "Code" in value:
        code = _error_code(value)
        shown = f" {code}" if code else ""
        raise _Invalid(f"Dexcom Share error body{shown} with HTTP {raw.http_status}: no readings")
    raise _Invalid(f"body is a JSON {_kind(value)}, expected an array of readings")


def _decode_text(body: bytes) -> str:
    try:
        return utf8_text(body)
    except UnicodeDecodeError as exc:
        raise _Invalid(f"body is not UTF-8 text: {_shorten(str(exc))}") from None


def _array_elements(text: str) -> list[tuple[Any, bytes]] | None:
    """The elements of ``text`` when it is exactly one JSON array, each with its exact source
    text, parsed once; None when it is anything else (the caller says what)."""
    elements: list[tuple[Any, bytes]] = []
    try:
        pos = _skip_whitespace(text, 0)
        if text[pos] != "[":
            return None
        pos = _skip_whitespace(text, pos + 1)
        if text[pos] != "]":
            while True:
                value, end = _DECODER.raw_decode(text, pos)
                elements.append((value, text[pos:end].encode("utf-8")))
                pos = _skip_whitespace(text, end)
                if text[pos] == "]":
                    break
                if text[pos] != ",":
                    return None
                pos = _skip_whitespace(text, pos + 1)
        # Like json.loads: nothing but whitespace after the array.
        if _skip_whitespace(text, pos + 1) != len(text):
            return None
    except (ValueError, RecursionError, IndexError):
        return None
    return elements


def _skip_whitespace(text: str, pos: int) -> int:
    """The first position at or after ``pos`` that is not JSON whitespace (may be the end)."""
    while pos < len(text) and text[pos] in _JSON_WHITESPACE:
        pos += 1
    return pos


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _error_code(value: Any) -> str | None:
    # Only the Code: Message and SubCode may echo account names back.
    code = value.get("Code") if isinstance(value, dict) else None
    if isinstance(code, str) and _ERROR_CODE.fullmatch(code):
        return code
    return None


def _document(item: Any, device: str, fetched_at_ms: int) -> NsDocument:
    if not isinstance(item, dict):
        raise _Invalid(f"is a JSON {_kind(item)}, expected an object")
    wall = _parse_date(_field(item, "WT"), "WT")
    date = wall.ms
    if date <= MIN_DATE_MS_EXCLUSIVE:
        raise _Invalid(f"WT {date} is not after 2000-01-01T00:00:00Z")
    if date > fetched_at_ms + MAX_AHEAD_MS or date > _MAX_DATE_MS:
        raise _Invalid(
            f"WT {date} is more than {MAX_AHEAD_MS // 60_000} min after the poll "
            f"(fetched_at_ms {fetched_at_ms})"
        )
    display = _parse_date(_field(item, "DT"), "DT")
    utc_offset = display.offset_minutes or 0
    if abs(utc_offset) > MAX_OFFSET_MINUTES:
        raise _Invalid(f"DT offset {utc_offset} min is beyond ±14 h")
    sgv = _whole_number(_field(item, "Value"), "Value")
    if not MIN_SGV <= sgv <= MAX_SGV:
        shown = _shorten(str(sgv), 20)
        raise _Invalid(f"Value {shown} is outside the plausible {MIN_SGV}..{MAX_SGV} mg/dL")
    trend = _trend(_field(item, "Trend"))
    return {
        "type": "sgv",
        "sgv": sgv,
        "date": date,
        "dateString": _iso_utc(date),
        "trend": trend,
        "direction": DIRECTIONS[trend],
        "utcOffset": utc_offset,
        "device": device,
        "app": APP_NAME,
        "identifier": entry_identifier(device, date, "sgv"),
    }


def _field(item: dict[str, Any], name: str) -> Any:
    if name not in item:
        raise _Invalid(f"{name} is missing")
    return item[name]


def _parse_date(value: Any, name: str) -> _DotNetDate:
    if not isinstance(value, str):
        raise _Invalid(f"{name} is a JSON {_kind(value)}, expected a string like Date(ms)")
    match = _DOTNET_DATE.fullmatch(value)
    if match is None:
        shown = _shorten(ascii(value))
        raise _Invalid(f"{name} {shown} is not Date(ms), Date(ms±hhmm) or /Date(ms)/")
    _, ms, sign, hours, minutes = match.groups()
    offset = None
    if sign is not None:
        if int(minutes) >= 60:
            raise _Invalid(f"{name} {value!a} has an offset with {minutes} minutes")
        offset = (int(hours) * 60 + int(minutes)) * (-1 if sign == "-" else 1)
    return _DotNetDate(int(ms), offset)


def _whole_number(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"{name} is a JSON {_kind(value)}, expected a number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Invalid(f"{name} {value!r} is not a finite number")
        if not value.is_integer():
            raise _Invalid(f"{name} {value!r} is not a whole number")
        return int(value)
    return value


def _trend(value: Any) -> int:
    if isinstance(value, str):
        return _TREND_BY_KEY.get("".join(value.split()).lower(), _UNKNOWN_TREND)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"Trend is a JSON {_kind(value)}, expected a string or an integer")
    number = _whole_number(value, "Trend")
    return number if 0 <= number < len(DIRECTIONS) else _UNKNOWN_TREND


def _iso_utc(date_ms: int) -> str:
    # time.gmtime, not datetime: C all the way, and dates are checked to years 2000-9999 first.
    seconds = time.gmtime(date_ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S.", seconds) + f"{date_ms % 1000:03d}Z"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
