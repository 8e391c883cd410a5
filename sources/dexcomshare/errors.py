"""What a Dexcom fault means for a link, in words the user can act on.

Every login refusal stops the link (LinkFatalError): retrying a refused login is how accounts get
locked, and a wrong password looks the same as a wrong region.
"""

from __future__ import annotations

from nightstream.schemas.errors import LinkFatalError, NightstreamError, RetriableError
from nightstream.sources.dexcomshare import faults
from nightstream.sources.dexcomshare.faults import DexcomFault


class SessionRejected(NightstreamError):
    """Dexcom no longer knows or accepts the session: log in again (once)."""


def wrong_password_or_region(region: str) -> str:
    return (
        "Dexcom rejected the username or password (AccountPasswordInvalid): wrong password, or "
        f"an account of another region (this link uses {region!r}): check CONNECT_SHARE_REGION "
        "(us / ous / jp) and the password in the Dexcom app"
    )


def account_locked(link_id: str) -> str:
    return (
        "account locked by Dexcom after too many failed logins "
        "(SSO_AuthenticateMaxAttemptsExceeded): wait (usually ~10 min or more) then run "
        f"`nightstream check-login {link_id}`"
    )


SHARE_NOT_SET_UP = (
    "Dexcom Share is not set up for this account (MonitoredReceiverNotAssigned): use the "
    "publisher's own account (the one the Dexcom app runs on, not a follower's), turn Share on "
    "in the Dexcom app and invite at least one follower"
)

MALFORMED_LOGIN = (
    "Dexcom rejected the login data as malformed (InvalidArgument): the username must be the "
    "e-mail, user name or phone number as +<country code><number>; also check the region "
    "(us / ous / jp) if the server URL is overridden"
)

NO_USABLE_ID = (
    "Dexcom accepted the login but returned no usable account or session id: check that these "
    "are the publisher's credentials with Share turned on"
)


def other_login_refusal(link_id: str, fault: DexcomFault) -> str:
    return (
        f"Dexcom refused the login ({fault.printable_code()}): check the username and password "
        f"by signing in to the Dexcom app, then run `nightstream check-login {link_id}`"
    )


def unknown_path(endpoint: str) -> str:
    return (
        f"the Share server does not know {endpoint} (HTTP 404): check the region "
        "(CONNECT_SHARE_REGION: us / ous / jp) or the server URL override"
    )


def login_refused(link_id: str, region: str, fault: DexcomFault) -> LinkFatalError:
    """The error for a fault answered to a login step. Always fatal: never retry a login."""
    code = fault.code
    if code in faults.BAD_CREDENTIAL_CODES or code == faults.SSO_ACCOUNT_NOT_FOUND:
        return LinkFatalError(link_id, wrong_password_or_region(region))
    if code == faults.MAX_ATTEMPTS_EXCEEDED:
        return LinkFatalError(link_id, account_locked(link_id))
    if code == faults.MONITORED_RECEIVER_NOT_ASSIGNED:
        return LinkFatalError(link_id, SHARE_NOT_SET_UP)
    if code == faults.INVALID_ARGUMENT:
        return LinkFatalError(link_id, MALFORMED_LOGIN)
    return LinkFatalError(link_id, other_login_refusal(link_id, fault))


def read_refused(link_id: str, fault: DexcomFault) -> NightstreamError:
    """The error for a fault answered to a read (session faults are handled before this)."""
    code = fault.code
    if code == faults.MONITORED_RECEIVER_NOT_ASSIGNED:
        return LinkFatalError(link_id, SHARE_NOT_SET_UP)
    if code == faults.MAX_ATTEMPTS_EXCEEDED:
        return LinkFatalError(link_id, account_locked(link_id))
    if code in faults.SESSION_CODES:
        return SessionRejected(code)
    if code == faults.INVALID_ARGUMENT:
        return LinkFatalError(
            link_id,
            "Dexcom rejected the read request as malformed (InvalidArgument); this is a "
            "nightstream bug, please report it",
        )
    return RetriableError(f"Dexcom Share answered fault {fault.printable_code()} to a read")
