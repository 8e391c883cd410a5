"""The JavaScript value rules the real (Node) server applies to JSON documents.

Python's own rules differ in ways that change answers: ``True == 1``, ``str(1e21)``,
``float("0x10")``. Documents here are parsed JSON: None, bool, int, float, str, list, dict, plus
``UNDEFINED`` for a missing field.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from enum import Enum
from typing import Any, Final


class _Undefined(Enum):
    UNDEFINED = "undefined"

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = _Undefined.UNDEFINED

# JavaScript's WhiteSpace and LineTerminator code points (what String.prototype.trim removes).
_JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_DECIMAL_LITERAL = re.compile(
    r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)", re.ASCII
)
_FLOAT_PREFIX = re.compile(r"[+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)", re.ASCII)
_INT_PREFIX = re.compile(r"[+-]?\d+", re.ASCII)
_RADIX_LITERAL = re.compile(r"0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)", re.ASCII)
_RADIX_BASES = {"x": 16, "o": 8, "b": 2}
_MAX_JS_DATE_MS = 8.64e15


def js_trim(text: str) -> str:
    return text.strip(_JS_WHITESPACE)


def is_number(value: Any) -> bool:
    """``typeof value === 'number'`` (Python's bool is an int, JavaScript's is not)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_truthy(value: Any) -> bool:
    if value is UNDEFINED or value is None or value is False:
        return False
    if is_number(value):
        return value != 0 and not math.isnan(value)
    if isinstance(value, str):
        return value != ""
    return True


def is_nullish(value: Any) -> bool:
    """``value == null``."""
    return value is None or value is UNDEFINED


def strict_equals(left: Any, right: Any) -> bool:
    """``left === right``; objects and arrays are equal only to themselves."""
    if is_number(left) and is_number(right):
        return bool(left == right)
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    if isinstance(left, str) and isinstance(right, str):
        return left == right
    return left is right  # null, undefined, and objects (by identity)


def is_empty(value: Any) -> bool:
    """lodash ``_.isEmpty``: true for null, numbers, booleans and empty strings/arrays/objects."""
    if isinstance(value, str | list | dict):
        return len(value) == 0
    return True


def string_to_number(text: str) -> float:
    """``Number(text)`` for a string."""
    trimmed = js_trim(text)
    if trimmed == "":
        return 0.0
    if trimmed in ("Infinity", "+Infinity"):
        return math.inf
    if trimmed == "-Infinity":
        return -math.inf
    radix = _RADIX_LITERAL.fullmatch(trimmed)
    if radix:
        literal = radix.group(1)
        return float(int(literal[1:], _RADIX_BASES[literal[0].lower()]))
    if _DECIMAL_LITERAL.fullmatch(trimmed):
        return float(trimmed)
    return math.nan


def to_number(value: Any) -> float:
    """``Number(value)``."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if is_number(value):
        return float(value)
    if value is None:
        return 0.0
    if isinstance(value, str):
        return string_to_number(value)
    if isinstance(value, list):
        if not value:
            return 0.0
        if len(value) == 1:
            return string_to_number(to_string(value[0]) if value[0] is not None else "")
    return math.nan


def parse_float(text: str) -> float:
    """``parseFloat(text)``: the longest leading decimal literal, else NaN."""
    match = _FLOAT_PREFIX.match(text.lstrip(_JS_WHITESPACE))
    if not match:
        return math.nan
    literal = match.group(0)
    if literal.lstrip("+-") == "Infinity":
        return -math.inf if literal.startswith("-") else math.inf
    return float(literal)


def parse_int(text: str) -> float:
    """``parseInt(text, 10)``: the leading decimal digits, else NaN."""
    match = _INT_PREFIX.match(text.lstrip(_JS_WHITESPACE))
    return float(int(match.group(0))) if match else math.nan


def is_number_in_string(text: str) -> bool:
    """``stringTools.isNumberInString``: ``!isNaN(parseFloat(s)) && isFinite(s)``."""
    return not math.isnan(parse_float(text)) and math.isfinite(string_to_number(text))


def is_null_or_whitespace(text: str) -> bool:
    """``stringTools.isNullOrWhitespace`` for a string: nothing but JavaScript ``\\s``."""
    return all(char in _JS_WHITESPACE for char in text)


def normalize_number(value: float) -> int | float:
    """JavaScript has one number type: keep integral values as int so they print as JS would."""
    if math.isfinite(value) and value == int(value):
        return int(value)
    return value


def truncate_to_date_ms(value: float) -> int | None:
    """The integer milliseconds ``new Date(value)`` keeps, or None for an invalid date."""
    if math.isnan(value) or abs(value) > _MAX_JS_DATE_MS:
        return None
    return math.trunc(value)


def number_to_string(value: float) -> str:
    """``String(number)`` (ECMAScript Number::toString)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    if value < 0:
        return "-" + number_to_string(-value)
    if isinstance(value, int) and value < 10**21:
        return str(value)
    sign_digits_exponent = Decimal(repr(float(value))).normalize().as_tuple()
    digits = "".join(str(digit) for digit in sign_digits_exponent.digits)
    exponent = sign_digits_exponent.exponent
    assert isinstance(exponent, int)
    k = len(digits)
    n = exponent + k
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    exponent_text = f"e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return digits[0] + ("." + digits[1:] if k > 1 else "") + exponent_text


def to_string(value: Any) -> str:
    """``String(value)`` / string concatenation."""
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return number_to_string(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join("" if is_nullish(item) else to_string(item) for item in value)
    return "[object Object]"
