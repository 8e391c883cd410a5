"""Dexcom Share fault codes and reading a fault body.

Share reports every failure as HTTP 500 with ``{Code, Message, SubCode, TypeName:
"FaultException"}``; the code, not the status, says what went wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

from nightstream.sources.dexcomshare.wire import json_object

FAULT_TYPE_NAME = "FaultException"

ACCOUNT_PASSWORD_INVALID = "AccountPasswordInvalid"  # noqa: S105 (a fault code)
MAX_ATTEMPTS_EXCEEDED = "SSO_AuthenticateMaxAttemptsExceeded"
SSO_INTERNAL_ERROR = "SSO_InternalError"
SSO_PASSWORD_INVALID = "SSO_AuthenticatePasswordInvalid"  # noqa: S105 (a fault code)
SSO_ACCOUNT_NOT_FOUND = "SSO_AuthenticateAccountNotFound"
SESSION_ID_NOT_FOUND = "SessionIdNotFound"
SESSION_NOT_VALID = "SessionNotValid"
INVALID_ARGUMENT = "InvalidArgument"
MONITORED_RECEIVER_NOT_ASSIGNED = "MonitoredReceiverNotAssigned"

SESSION_CODES = frozenset({SESSION_ID_NOT_FOUND, SESSION_NOT_VALID})
BAD_CREDENTIAL_CODES = frozenset({ACCOUNT_PASSWORD_INVALID, SSO_PASSWORD_INVALID})

ZERO_UUID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True, slots=True)
class DexcomFault:
    """The code of a Dexcom fault. Dexcom's own message is kept out: it may echo the username."""

    code: str

    def printable_code(self) -> str:
        """The code reduced to characters that are safe to put in a user message."""
        kept = "".join(c for c in self.code if c.isalnum() or c == "_")
        return kept[:64] or "unknown"


def parse_fault(body: bytes) -> DexcomFault | None:
    """The fault in ``body``, or None when the body is not a Dexcom fault."""
    value = json_object(body)
    if value is None:
        return None
    code = value.get("Code")
    if not isinstance(code, str) or not code:
        return None
    return DexcomFault(code)
