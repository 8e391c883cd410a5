"""No login before LibreLinkUp's lockout is over, however often the client is called.

Each login tried during a lockout counts as another failure at Abbott and may extend it, so the
gate is checked before any request leaves, and only the vendor's own answers move it.
"""

from __future__ import annotations

import math

from nightstream.schemas.errors import RetriableError


class LoginGate:
    def __init__(self) -> None:
        self._closed_until_ms = 0

    @property
    def closed_until_ms(self) -> int:
        return self._closed_until_ms

    def close_for(self, seconds: float, now_ms: int) -> None:
        self._closed_until_ms = max(self._closed_until_ms, now_ms + math.ceil(seconds * 1000))

    def check(self, now_ms: int) -> None:
        """Raise RetriableError with the remaining wait while the gate is closed."""
        remaining_ms = self._closed_until_ms - now_ms
        if remaining_ms > 0:
            seconds = remaining_ms / 1000
            raise RetriableError(
                f"LibreLinkUp login locked out for another {math.ceil(seconds)} s; not trying",
                retry_after=seconds,
            )
