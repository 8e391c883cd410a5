"""What a ``POST /llu/auth/login`` answer means: a session, a redirect, or a refusal.

Every refusal is either fatal (the user must act) or carries how long to wait; none may be
answered by logging in again at once, because LibreLinkUp locks accounts that try too often.
"""

from __future__ import annotations

from dataclasses import dataclass

from nightstream.schemas.errors import LinkFatalError, RetriableError
from nightstream.sources.librelinkup import errors
from nightstream.sources.librelinkup.hosts import region_key
from nightstream.sources.librelinkup.protocol import (
    STATUS_BAD_CREDENTIALS,
    STATUS_OK,
    STATUS_STEP_REQUIRED,
    account_id_header,
)
from nightstream.sources.librelinkup.refusals import (
    raise_for_api_refusal,
    throttle_seconds,
    throttled,
)
from nightstream.sources.librelinkup.reply import LluReply, field
from nightstream.sources.librelinkup.session import Session, read_ticket
from nightstream.sources.secret import Secret

# An unexplained refusal of a login is not retried sooner than this: it may be the start of a
# lockout, and every attempt counts towards one.
UNKNOWN_REFUSAL_PAUSE_S = 15 * 60.0


@dataclass(frozen=True, slots=True)
class Redirect:
    region: str


def read_login(
    reply: LluReply, *, region: str, link_id: str, version: str, now_ms: int
) -> Session | Redirect:
    """Raises LinkFatalError, or RetriableError whose ``retry_after`` is the time before which
    no login may be tried again."""
    raise_for_api_refusal(reply, link_id=link_id, version=version)
    wait = throttle_seconds(reply)
    if wait is not None:
        raise throttled("the login", wait)
    status = reply.status()
    if status == STATUS_BAD_CREDENTIALS:
        raise LinkFatalError(link_id, errors.bad_credentials(link_id))
    if status == STATUS_STEP_REQUIRED:
        step_type = field(reply.data(), "step", "type")
        raise LinkFatalError(
            link_id,
            errors.step_required(link_id, step_type if isinstance(step_type, str) else None),
        )
    if reply.http_status >= 500 or status is None:
        raise RetriableError(
            f"LibreLinkUp answered the login with HTTP {reply.http_status}",
            retry_after=reply.retry_after,
        )
    if status != STATUS_OK:
        raise RetriableError(
            f"LibreLinkUp refused the login with status {status}",
            retry_after=UNKNOWN_REFUSAL_PAUSE_S,
        )
    return _accepted(reply, region, now_ms)


def _accepted(reply: LluReply, region: str, now_ms: int) -> Session | Redirect:
    data = reply.data()
    if field(data, "redirect") is True:
        target = field(data, "region")
        try:
            return Redirect(region_key(target if isinstance(target, str) else ""))
        except ValueError:
            raise RetriableError("LibreLinkUp redirected the login to no usable region") from None
    ticket = read_ticket(field(data, "authTicket"), now_ms)
    user_id = field(data, "user", "id")
    if ticket is None or not isinstance(user_id, str) or not user_id:
        raise RetriableError("LibreLinkUp accepted the login but sent no ticket or user id")
    token, expires_ms = ticket
    return Session(region, token, Secret(account_id_header(user_id)), expires_ms)
