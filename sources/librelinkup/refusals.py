"""Refusals any LibreLinkUp call can answer: an app version too old, a header missing,
throttling. Each says whether the link must stop or wait."""

from __future__ import annotations

from nightstream.schemas.errors import LinkFatalError, RetriableError
from nightstream.sources.librelinkup import errors
from nightstream.sources.librelinkup.protocol import (
    REQUIRED_HEADER_MISSING,
    STATUS_LOCKED,
    STATUS_VERSION_TOO_OLD,
    version_tuple,
)
from nightstream.sources.librelinkup.reply import LluReply, field, positive_number

# The lockout LibreLinkUp announced in the one report seen (3 failures in 60 s -> 300 s); the
# wait when a throttling answer does not say how long.
DEFAULT_LOCKOUT_S = 300.0
THROTTLE_HTTP_STATUSES = frozenset({429, 430})


def raise_for_api_refusal(reply: LluReply, *, link_id: str, version: str) -> None:
    """Raise LinkFatalError for the refusals only a new setting or release can fix."""
    if reply.status() == STATUS_VERSION_TOO_OLD:
        minimum = field(reply.data(), "minimumVersion")
        shown = minimum if isinstance(minimum, str) and version_tuple(minimum) else None
        raise LinkFatalError(link_id, errors.version_too_old(shown, version))
    if reply.message() == REQUIRED_HEADER_MISSING:
        raise LinkFatalError(link_id, errors.header_missing(version))


def throttle_seconds(reply: LluReply) -> float | None:
    """How long LibreLinkUp asks to wait, when the answer is a lockout or a throttle."""
    if reply.status() == STATUS_LOCKED:
        announced = positive_number(field(reply.data(), "data", "lockout"))
        return max(announced or 0.0, reply.retry_after or 0.0) or DEFAULT_LOCKOUT_S
    if reply.http_status in THROTTLE_HTTP_STATUSES:
        return reply.retry_after or DEFAULT_LOCKOUT_S
    return None


def throttled(call: str, seconds: float) -> RetriableError:
    return RetriableError(
        f"LibreLinkUp throttled {call}: waiting {seconds:.0f} s as it asked", retry_after=seconds
    )
