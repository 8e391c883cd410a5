"""What the answer to an authenticated call (connections, graph) means."""

from __future__ import annotations

from nightstream.schemas.errors import LinkFatalError, NightstreamError, RetriableError
from nightstream.sources.librelinkup import errors
from nightstream.sources.librelinkup.protocol import (
    COULD_NOT_LOAD_PATIENT,
    MISSING_CACHED_USER,
    STATUS_OK,
)
from nightstream.sources.librelinkup.refusals import (
    raise_for_api_refusal,
    throttle_seconds,
    throttled,
)
from nightstream.sources.librelinkup.reply import LluReply

_PATIENT_ERRORS = {
    COULD_NOT_LOAD_PATIENT: "couldNotLoadPatient",
    MISSING_CACHED_USER: "MissingCachedUser: that is a user id, not a patientId",
}


class SessionEnded(NightstreamError):
    """LibreLinkUp no longer accepts the ticket: log in again (once)."""


def check_authorized(reply: LluReply, *, link_id: str, call: str, version: str) -> None:
    """Return when ``reply`` is a success; raise what it means otherwise."""
    raise_for_api_refusal(reply, link_id=link_id, version=version)
    wait = throttle_seconds(reply)
    if wait is not None:
        raise throttled(call, wait)
    if reply.http_status == 401:
        raise SessionEnded(f"LibreLinkUp ended the session (HTTP 401 on {call})")
    status = reply.status()
    message = reply.message()
    if message in _PATIENT_ERRORS:
        problem = (
            f"LibreLinkUp cannot load the configured patient ({_PATIENT_ERRORS[message]}): "
            "patient_id must be the patientId of someone this account follows"
        )
        raise LinkFatalError(link_id, errors.then_list(link_id, problem))
    if not 200 <= reply.http_status <= 299:
        raise RetriableError(
            f"LibreLinkUp answered {call} with HTTP {reply.http_status}",
            retry_after=reply.retry_after,
        )
    if status != STATUS_OK:
        raise RetriableError(f"LibreLinkUp answered {call} with status {status}")
