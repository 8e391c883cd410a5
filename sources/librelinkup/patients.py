"""The patients a follower account sees (``GET /llu/connections``), and which one a link follows.

One link follows one patient. With ``patient_id`` configured it is that one; without, it is the
only one, and an account following several must say which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nightstream.schemas.errors import LinkFatalError
from nightstream.sources.librelinkup import errors


@dataclass(frozen=True, slots=True)
class Patient:
    patient_id: str
    initial: str
    """The first letter of the first name (or "?"): enough to tell patients apart."""

    def describe(self) -> str:
        return f"{self.patient_id} ({self.initial}.)"


def read_patients(data: Any) -> list[Patient]:
    """The patients in a connections answer's ``data``; entries without a patientId are skipped."""
    if not isinstance(data, list):
        return []
    patients = []
    for connection in data:
        if not isinstance(connection, dict):
            continue
        patient_id = connection.get("patientId")
        if not isinstance(patient_id, str) or not patient_id.strip():
            continue
        first_name = connection.get("firstName")
        initial = first_name.strip()[:1].upper() if isinstance(first_name, str) else ""
        patients.append(Patient(patient_id.strip(), initial if initial.isalpha() else "?"))
    return patients


def follows_nobody(link_id: str) -> str:
    return errors.then_check(
        link_id,
        "this LibreLinkUp account follows nobody (empty connections list): accept the patient's "
        "invitation in the LibreLinkUp app (patients following themselves invite their own "
        "LibreLinkUp account from the LibreLink / Libre app)",
    )


def choose_patient(link_id: str, patients: list[Patient], configured: str | None) -> Patient:
    """The patient this link follows; LinkFatalError when the configuration cannot tell."""
    if not patients:
        raise LinkFatalError(link_id, follows_nobody(link_id))
    count = len(patients)
    if configured is None:
        if count == 1:
            return patients[0]
        problem = f"this LibreLinkUp account follows {count} patients: set patient_id for this link"
        raise LinkFatalError(link_id, errors.then_list(link_id, problem))
    wanted = configured.strip().lower()
    for patient in patients:
        if patient.patient_id.lower() == wanted:
            return patient
    problem = f"patient_id is not among the {count} patients this LibreLinkUp account follows"
    raise LinkFatalError(link_id, errors.then_list(link_id, problem))
