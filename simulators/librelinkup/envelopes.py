"""The JSON envelopes the simulated LibreLinkUp answers with, success and refusal alike."""

from __future__ import annotations

from nightstream.simulators.kit.lockout import LockoutPolicy
from nightstream.simulators.kit.replies import Reply, json_reply
from nightstream.simulators.librelinkup.accounts import LluAccount, StepType
from nightstream.simulators.librelinkup.tickets import Ticket
from nightstream.sources.librelinkup.protocol import (
    COULD_NOT_LOAD_PATIENT,
    REQUIRED_HEADER_MISSING,
    STATUS_BAD_CREDENTIALS,
    STATUS_LOCKED,
    STATUS_OK,
    STATUS_STEP_REQUIRED,
    STATUS_VERSION_TOO_OLD,
)

_STEP_COMPONENTS: dict[StepType, str] = {
    "tou": "AcceptDocument",
    "pp": "AcceptDocument",
    "verifyEmail": "VerifyEmail",
}
LOCKED_CODE = 60


def ticket_object(ticket: Ticket, now_ms: int) -> dict[str, object]:
    return {
        "token": ticket.token,
        "expires": ticket.expires_ms // 1000,
        "duration": ticket.expires_ms - now_ms,
    }


def data_answer(data: object, ticket: Ticket, now_ms: int) -> Reply:
    return json_reply({"status": STATUS_OK, "data": data, "ticket": ticket_object(ticket, now_ms)})


def logged_in(account: LluAccount, ticket: Ticket, now_ms: int) -> Reply:
    user = {
        "id": account.user_id,
        "firstName": "Follower",
        "lastName": "Example",
        "email": account.email,
        "country": account.region.upper()[:2],
        "uiLanguage": "en-GB",
        "accountType": "pat",
        "uom": "1",
        "dateFormat": "2",
        "timeFormat": "2",
        "created": account.created_s,
        "consents": {},
        "devices": {},
    }
    data = {
        "user": user,
        "messages": {"unread": 0},
        "notifications": {"unresolved": 0},
        "authTicket": ticket_object(ticket, now_ms),
        "invitations": None,
        "trustedDeviceToken": "",
    }
    return json_reply({"status": STATUS_OK, "data": data})


def step_required(account: LluAccount, step: StepType, ticket: Ticket, now_ms: int) -> Reply:
    data = {
        "step": {
            "type": step,
            "componentName": _STEP_COMPONENTS[step],
            "props": {"reaccept": True},
        },
        "user": {
            "accountType": "pat",
            "country": account.region.upper()[:2],
            "uiLanguage": "en-GB",
        },
        "authTicket": ticket_object(ticket, now_ms),
    }
    return json_reply({"status": STATUS_STEP_REQUIRED, "data": data})


def redirect(region: str) -> Reply:
    return json_reply({"status": STATUS_OK, "data": {"redirect": True, "region": region}})


def bad_credentials() -> Reply:
    return json_reply({"status": STATUS_BAD_CREDENTIALS, "error": {"message": "notAuthenticated"}})


def locked(policy: LockoutPolicy) -> Reply:
    numbers = {
        "failures": policy.failures,
        "interval": (policy.interval_ms or 0) // 1000,
        "lockout": policy.lockout_ms // 1000,
    }
    data = {"code": LOCKED_CODE, "data": numbers, "message": "locked"}
    return json_reply({"status": STATUS_LOCKED, "data": data})


def version_refused(minimum: str) -> Reply:
    return json_reply({"data": {"minimumVersion": minimum}, "status": STATUS_VERSION_TOO_OLD}, 403)


def header_missing() -> Reply:
    return json_reply({"message": REQUIRED_HEADER_MISSING}, 403)


def unauthorized() -> Reply:
    return json_reply({"message": "Unauthorized"}, 401)


def patient_not_found(message: str = COULD_NOT_LOAD_PATIENT) -> Reply:
    return json_reply({"status": STATUS_STEP_REQUIRED, "error": {"message": message}})
