"""What the LibreLinkUp client hands back: a graph answer as received, and a login verdict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sources.librelinkup.patients import Patient
from sources.librelinkup.protocol import GRAPH_ENDPOINT


@dataclass(frozen=True, slots=True)
class GraphAnswer:
    """One ``/llu/connections/<patientId>/graph`` answer, body as received but for the bearer
    ticket's token (see ``redaction.py``).

    ``patient_digest`` is ``stream_digest(patientId)``: it names the stream without the id.
    """

    status: int
    content_type: str
    body: bytes
    patient_digest: str
    region: str
    endpoint: str = GRAPH_ENDPOINT

    def request_params(self) -> dict[str, str]:
        """Non-secret request parameters, as pollers put them in ``RawPayload.request_params``."""
        return {"stream": self.patient_digest, "region": self.region}


VerdictOutcome = Literal["ok", "no_data", "refused", "unreachable"]


@dataclass(frozen=True, slots=True)
class LoginVerdict:
    """The verdict of one login attempt, in words for the user.

    ``ok``: login works and the account follows someone; ``no_data``: login works but the
    account follows nobody; ``refused``: LibreLinkUp said no (the user must act);
    ``unreachable``: no verdict (network, lockout, LibreLinkUp down): try again later.
    """

    outcome: VerdictOutcome
    message: str
    region: str | None = None
    patients: tuple[Patient, ...] = ()

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"
