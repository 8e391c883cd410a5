"""A holder that keeps a secret out of str(), repr(), f-strings and tracebacks."""

from __future__ import annotations

import hmac
from typing import NoReturn

_MASK = "**********"


class Secret:
    """A string that only :meth:`reveal` shows.

    Used for passwords, session ids, tickets and account ids: none of them may leak into logs,
    exceptions or reprs.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    def __str__(self) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")
