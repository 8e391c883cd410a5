"""What the LibreLinkUp client hands back: a graph answer as received, and a login verdict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from nightstream.sources.librelinkup.patients import Patient
from nightstream.sources.librelinkup.reply import LluReply


@dataclass(frozen=True, slots=True)
class GraphAnswer:
    """One ``/llu/connections/<patientId>/graph`` answer, for one patient, from one region.

    ``reply`` is the answer as received but for the bearer ticket's token (see
    ``redaction.py``); ``patient_digest`` is ``stream_digest(patientId)``, which names the
    stream without the id.
    """

    patient_digest: str
    region: str
    reply: LluReply

    def payload_fields(self) -> dict[str, Any]:
        """What this answer puts in a ``RawPayload``; ``request_params`` holds nothing secret."""
        return {
            "http_status": self.reply.http_status,
            "body": self.reply.body,
            "content_type": self.reply.content_type,
            "request_params": {"stream": self.patient_digest, "region": self.region},
        }


VerdictOutcome = Literal["ok", "no_data", "refused", "unreachable"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginVerdict:
    """The verdict of one login attempt, in words for the user, with the patients it found.

    ``ok``: login works and the account follows someone; ``no_data``: login works but the
    account follows nobody; ``refused``: LibreLinkUp said no (the user must act);
    ``unreachable``: no verdict (network, lockout, LibreLinkUp down): try again later.
    """

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    outcome: VerdictOutcome
    message: str
    patients: tuple[Patient, ...] = ()
    region: str | None = None
