"""Date parsing and formatting as the real server does it with moment.js and ``Date``.

``parse_to_moment`` is ``shared/dateTools.js`` ``parseToMoment``: epoch ms (numbers or numeric
strings, re-read as seconds when they would fall before 2000), ISO-8601 in moment's lenient form,
then RFC 2822. The server's local zone is taken to be UTC.
"""

from __future__ import annotations

import calendar
import datetime as dt
import email.utils
import math
import re
from dataclasses import dataclass
from typing import Any, Final

from nightstream.simulators.nightscout import js_semantics as js

MIN_TIMESTAMP_MS: Final = 946684800000  # 2000-01-01T00:00:00Z, `lib/api3/const.json`
SERVER_UTC_OFFSET_MINUTES: Final = 0

_EXTENDED_ISO = re.compile(
    r"\s*((?:[+-]\d{6}|\d{4})-(?:\d\d-\d\d|W\d\d-\d|W\d\d|\d\d\d|\d\d))"
    r"(?:(T| )(\d\d(?::\d\d(?::\d\d(?:[.,]\d+)?)?)?)([+-]\d\d(?::?\d\d)?|\s*Z)?)?",
    re.ASCII,
)
_BASIC_ISO = re.compile(
    r"\s*((?:[+-]\d{6}|\d{4})(?:\d\d\d\d|W\d\d\d|W\d\d|\d\d\d|\d\d|))"
    r"(?:(T| )(\d\d(?:\d\d(?:\d\d(?:[.,]\d+)?)?)?)([+-]\d\d(?::?\d\d)?|\s*Z)?)?",
    re.ASCII,
)
# moment's isoDates, tried in this order (unanchored search, as moment does); the flag says
# whether a time may follow.
_ISO_DATE_FORMATS: Final = (
    ("YYYYYY-MM-DD", re.compile(r"[+-]\d{6}-\d\d-\d\d", re.ASCII), True),
    ("YYYY-MM-DD", re.compile(r"\d{4}-\d\d-\d\d", re.ASCII), True),
    ("GGGG-[W]WW-E", re.compile(r"\d{4}-W\d\d-\d", re.ASCII), True),
    ("GGGG-[W]WW", re.compile(r"\d{4}-W\d\d", re.ASCII), False),
    ("YYYY-DDD", re.compile(r"\d{4}-\d{3}", re.ASCII), True),
    ("YYYY-MM", re.compile(r"\d{4}-\d\d", re.ASCII), False),
    ("YYYYYYMMDD", re.compile(r"[+-]\d{10}", re.ASCII), True),
    ("YYYYMMDD", re.compile(r"\d{8}", re.ASCII), True),
    ("GGGG[W]WWE", re.compile(r"\d{4}W\d{3}", re.ASCII), True),
    ("GGGG[W]WW", re.compile(r"\d{4}W\d{2}", re.ASCII), False),
    ("YYYYDDD", re.compile(r"\d{7}", re.ASCII), True),
    ("YYYYMM", re.compile(r"\d{6}", re.ASCII), False),
    ("YYYY", re.compile(r"\d{4}", re.ASCII), False),
)
_ISO_TIME = re.compile(r"(\d\d):?(\d\d)?(?::?(\d\d)(?:[.,](\d+))?)?", re.ASCII)
_ISO_OFFSET = re.compile(r"\s*Z|([+-])(\d\d):?(\d\d)?", re.ASCII)

_RFC2822 = re.compile(
    r"(?:(Mon|Tue|Wed|Thu|Fri|Sat|Sun),?\s)?(\d{1,2})\s"
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s(\d{2,4})\s(\d\d):(\d\d)(?::(\d\d))?\s"
    r"(?:(UT|GMT|[ECMP][SD]T)|([Zz])|([+-]\d{4}))",
    re.ASCII,
)
_RFC2822_COMMENTS = re.compile(r"\([^()]*\)|[\n\t]")
_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
_WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_OBSOLETE_OFFSETS: Final = {
    "UT": 0,
    "GMT": 0,
    "EDT": -4 * 60,
    "EST": -5 * 60,
    "CDT": -5 * 60,
    "CST": -6 * 60,
    "MDT": -6 * 60,
    "MST": -7 * 60,
    "PDT": -7 * 60,
    "PST": -8 * 60,
}


@dataclass(frozen=True)
class ParsedDate:
    epoch_ms: int
    utc_offset_minutes: int


def parse_to_moment(value: Any) -> ParsedDate | None:
    """``dateTools.parseToMoment``: first parseable candidate of a value or list of values."""
    if not js.is_truthy(value):
        return None
    if isinstance(value, list):
        for item in value:
            parsed = parse_to_moment(item)
            if parsed is not None:
                return parsed
        return None
    if isinstance(value, str) and js.is_number_in_string(value):
        value = js.parse_float(value)
    if js.is_number(value):
        return _parse_epoch_number(float(value))
    if isinstance(value, str):
        parsed = parse_iso8601(value) or parse_rfc2822(value)
        if parsed is None or parsed.epoch_ms < MIN_TIMESTAMP_MS:
            return None
        return parsed
    return None


def _parse_epoch_number(value: float) -> ParsedDate | None:
    epoch_ms = js.truncate_to_date_ms(value)
    if epoch_ms is None:
        return None
    if epoch_ms < MIN_TIMESTAMP_MS:
        # moment.unix(m) multiplies the already truncated moment, so fractional seconds are lost.
        epoch_ms = js.truncate_to_date_ms(epoch_ms * 1000.0)
        if epoch_ms is None:
            return None
    if epoch_ms < MIN_TIMESTAMP_MS:
        return None
    return ParsedDate(epoch_ms, SERVER_UTC_OFFSET_MINUTES)


def parse_iso8601(text: str) -> ParsedDate | None:
    """``moment.parseZone(text, moment.ISO_8601)``; no offset in the text means UTC."""
    match = _EXTENDED_ISO.fullmatch(text) or _BASIC_ISO.fullmatch(text)
    if match is None:
        return None
    date_text, _separator, time_text, offset_text = match.groups()
    day = _parse_iso_date(date_text, has_time=time_text is not None)
    if day is None:
        return None
    time_of_day_ms = _parse_iso_time(time_text) if time_text else 0
    if time_of_day_ms is None:
        return None
    offset_minutes = _parse_iso_offset(offset_text) if offset_text else 0
    local_ms = calendar.timegm(day.timetuple()) * 1000 + time_of_day_ms
    return ParsedDate(local_ms - offset_minutes * 60_000, offset_minutes)


def _parse_iso_date(text: str, *, has_time: bool) -> dt.date | None:
    for name, pattern, time_allowed in _ISO_DATE_FORMATS:
        if pattern.search(text):
            if has_time and not time_allowed:
                return None
            return _build_iso_date(name, text)
    return None


def _build_iso_date(name: str, text: str) -> dt.date | None:
    year_length = 7 if name.startswith("YYYYYY") else 4  # signed six-digit years
    year = int(text[:year_length])
    rest = text[year_length:].replace("-", "").replace("W", "")
    try:
        if name.startswith("GGGG"):
            weekday = int(rest[2]) if len(rest) > 2 else 1
            return dt.date.fromisocalendar(year, int(rest[:2]), weekday)
        if "DDD" in name:
            day_of_year = int(rest)
            if day_of_year == 0:
                return None
            return dt.date(year, 1, 1) + dt.timedelta(days=day_of_year - 1)
        month = int(rest[:2]) if rest else 1
        day = int(rest[2:4]) if len(rest) >= 4 else 1
        return dt.date(year, month, day)
    except (ValueError, OverflowError):
        return None


def _parse_iso_time(text: str) -> int | None:
    match = _ISO_TIME.fullmatch(text)
    if match is None:
        return None
    hours = int(match.group(1))
    minutes = int(match.group(2) or 0)
    seconds = int(match.group(3) or 0)
    fraction = match.group(4)
    milliseconds = math.trunc(float("0." + fraction) * 1000) if fraction else 0
    if hours == 24 and (minutes, seconds, milliseconds) == (0, 0, 0):
        return 24 * 3_600_000
    if hours > 23 or minutes > 59 or seconds > 59:
        return None
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + milliseconds


def _parse_iso_offset(text: str) -> int:
    match = _ISO_OFFSET.fullmatch(text)
    if match is None or match.group(1) is None:
        return 0
    minutes = int(match.group(2)) * 60 + int(match.group(3) or 0)
    return minutes if match.group(1) == "+" else -minutes


def parse_rfc2822(text: str) -> ParsedDate | None:
    """``moment.parseZone(text, moment.RFC_2822)``."""
    cleaned = re.sub(r"\s\s+", " ", _RFC2822_COMMENTS.sub(" ", text)).strip()
    match = _RFC2822.fullmatch(cleaned)
    if match is None:
        return None
    weekday, day, month, year_text, hours, minutes, seconds, obsolete, military, numeric = (
        match.groups()
    )
    year = int(year_text)
    if year <= 49:
        year += 2000
    elif year <= 999:
        year += 1900
    try:
        day_date = dt.date(year, _MONTHS.index(month) + 1, int(day))
    except ValueError:
        return None
    if weekday and _WEEKDAYS.index(weekday) != day_date.weekday():
        return None
    if int(hours) > 23 or int(minutes) > 59 or int(seconds or 0) > 59:
        return None
    if obsolete:
        offset_minutes = _OBSOLETE_OFFSETS[obsolete]
    elif military:
        offset_minutes = 0
    else:
        hhmm = int(numeric)
        sign = -1 if hhmm < 0 else 1
        offset_minutes = sign * ((abs(hhmm) // 100) * 60 + abs(hhmm) % 100)
    local_seconds = calendar.timegm(day_date.timetuple()) + (
        int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)
    )
    return ParsedDate(local_seconds * 1000 - offset_minutes * 60_000, offset_minutes)


def parse_js_date(text: str) -> int | None:
    """``new Date(text).getTime()``, or None where JavaScript would give NaN."""
    parsed = parse_iso8601(text) or parse_rfc2822(text)
    if parsed is not None:
        return parsed.epoch_ms
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def floor_seconds(epoch_ms: int) -> int:
    return epoch_ms - epoch_ms % 1000


def to_iso_string(epoch_ms: int) -> str:
    """``Date.prototype.toISOString``: ``YYYY-MM-DDTHH:mm:ss.sssZ`` in UTC."""
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=epoch_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def to_utc_string(epoch_ms: int) -> str:
    """``Date.prototype.toUTCString`` (the HTTP date format, second precision)."""
    return email.utils.formatdate(epoch_ms / 1000, usegmt=True)
