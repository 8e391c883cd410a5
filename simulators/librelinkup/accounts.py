"""Simulated LibreLinkUp follower accounts and the patients they follow.

An account lives in one region; it follows one patient or several (a parent following two
children, a clinic account). ``step`` makes every login stop at that extra step (terms of use,
privacy policy, e-mail verification) until cleared.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import KW_ONLY, dataclass
from typing import Literal

StepType = Literal["tou", "pp", "verifyEmail"]
STEP_TYPES: tuple[StepType, ...] = ("tou", "pp", "verifyEmail")
GlucoseUnits = Literal[0, 1]
MMOL_L: GlucoseUnits = 0
MG_DL: GlucoseUnits = 1

_NAMESPACE = uuid.UUID("1f0e6c2e-3a5b-4f8e-9d4c-6c6c752d7369")
_FIRST_NAMES = ("Alex", "Billie", "Charlie", "Dana", "Eli", "Frankie", "Gabi", "Hanne", "Ira")
_ZONES: dict[str, tuple[str, ...]] = {
    "us": ("America/New_York", "America/Chicago", "America/Los_Angeles"),
    "eu": ("Europe/Berlin", "Europe/Paris", "Europe/Madrid"),
    "eu2": ("Europe/London",),
    "de": ("Europe/Berlin",),
    "fr": ("Europe/Paris",),
    "jp": ("Asia/Tokyo",),
    "ap": ("Asia/Singapore", "Asia/Kolkata"),
    "au": ("Australia/Sydney", "Australia/Adelaide"),
    "ca": ("America/Toronto", "America/St_Johns"),
}


def _derived_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, ":".join(parts)))


@dataclass(frozen=True, slots=True)
class SimPatient:
    patient_id: str
    first_name: str = "Sam"
    last_name: str = "Example"
    units: GlucoseUnits = MG_DL
    time_zone: str = "UTC"
    """The zone of the patient's phone: what the phone-local ``Timestamp`` is written in."""
    gap_probability: float = 0.0


@dataclass(frozen=True, slots=True)
class LluAccount:
    email: str
    password: str
    _: KW_ONLY
    patients: tuple[SimPatient, ...] = ()
    region: str = "eu"
    user_id: str = ""
    step: StepType | None = None
    created_s: int = 1_600_000_000
    follows_nobody: bool = False
    """Without patients the account follows one derived patient, unless this says nobody."""

    def __post_init__(self) -> None:
        if not self.user_id:
            object.__setattr__(self, "user_id", _derived_id("user", self.key))
        if not self.patients and not self.follows_nobody:
            patient = SimPatient(_derived_id("patient", self.key))
            object.__setattr__(self, "patients", (patient,))

    @property
    def key(self) -> str:
        """How the simulator files this account: the case-folded e-mail."""
        return self.email.casefold()

    def patient(self, patient_id: str) -> SimPatient | None:
        return next((p for p in self.patients if p.patient_id == patient_id), None)

    def __repr__(self) -> str:
        return f"LluAccount(email={self.email!r}, region={self.region!r})"


def _random_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _patient(rng: random.Random, zones: tuple[str, ...], number: int) -> SimPatient:
    return SimPatient(
        patient_id=_random_uuid(rng),
        first_name=rng.choice(_FIRST_NAMES),
        last_name=f"Example{number}",
        units=MMOL_L if rng.random() < 0.5 else MG_DL,
        time_zone=rng.choice(zones),
    )


def generate_accounts(
    count: int, seed: int, regions: tuple[str, ...] = ("eu",), patients_per_account: int = 1
) -> list[LluAccount]:
    """``count`` accounts, the same for the same seed; regions are dealt round-robin, and each
    account follows ``patients_per_account`` patients living in its region's time zones."""
    rng = random.Random(f"librelinkup-accounts:{seed}")
    dealt = [regions[index % len(regions)] for index in range(count)]
    return [
        LluAccount(
            email=f"follower{number:03d}.{region}@example.com",
            password=f"Sim-{rng.getrandbits(48):012x}",
            region=region,
            user_id=_random_uuid(rng),
            patients=tuple(
                _patient(rng, _ZONES.get(region, ("UTC",)), n + 1)
                for n in range(patients_per_account)
            ),
        )
        for number, region in enumerate(dealt, start=1)
    ]
