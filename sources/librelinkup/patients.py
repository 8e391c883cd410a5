"""The patients a follower account sees (``GET /llu/connections``), and which one a link follows.

One link follows one patient. With ``patient_id`` configured it is that one; without, it is the
only one, and an account following several must say which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.errors import LinkFatalError
from sources.librelinkup import errors


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


def choose_patient(link_id: str, patients: list[Patient], configured: str | None) -> Patient:
    """The patient this link follows; LinkFatalError when the configuration cannot tell."""
    if configured is not None:
        for patient in patients:
            if patient.patient_id.lower() == configured.strip().lower():
                return patient
        if not patients:
            raise LinkFatalError(link_id, errors.no_patients(link_id))
        raise LinkFatalError(link_id, errors.configured_patient_absent(link_id, len(patients)))
    if not patients:
        raise LinkFatalError(link_id, errors.no_patients(link_id))
    if len(patients) > 1:
        raise LinkFatalError(link_id, errors.several_patients(link_id, len(patients)))
    return patients[0]
