"""Simulated Share publisher accounts, and a deterministic way to make many of them."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Literal

from nightstream.simulators.dexcomshare.formats import DateStyle, TrendStyle
from nightstream.sources.dexcomshare.servers import Region

# ok: readings; no_receiver: reads fail with MonitoredReceiverNotAssigned;
# no_follower: login works but reads answer [] (the symptom users report).
ShareSetup = Literal["ok", "no_receiver", "no_follower"]

_ACCOUNT_ID_NAMESPACE = uuid.UUID("5b0d3d5e-7c33-4d7e-9a53-6e6967687473")

_TYPICAL_UTC_OFFSETS: dict[Region, tuple[int, ...]] = {
    "us": (-240, -300, -360, -420),
    "ous": (0, 60, 120),
    "jp": (540,),
}


@dataclass(frozen=True, slots=True)
class SimAccount:
    username: str
    password: str
    region: Region = "us"
    account_id: str = ""
    utc_offset_minutes: int = 0
    date_style: DateStyle = "current"
    trend_style: TrendStyle = "string"
    share: ShareSetup = "ok"
    gap_probability: float = 0.0

    def __post_init__(self) -> None:
        if not self.account_id:
            derived = uuid.uuid5(_ACCOUNT_ID_NAMESPACE, f"{self.region}:{self.username.casefold()}")
            object.__setattr__(self, "account_id", str(derived))

    @property
    def key(self) -> str:
        """How the simulator files this account: the case-folded username."""
        return self.username.casefold()

    def __repr__(self) -> str:
        return f"SimAccount(username={self.username!r}, region={self.region!r})"


def generate_accounts(
    count: int, seed: int, regions: tuple[Region, ...] = ("us",)
) -> list[SimAccount]:
    """``count`` accounts, the same for the same seed; regions are dealt round-robin."""
    rng = random.Random(f"dexcomshare-accounts:{seed}")
    accounts = []
    for index in range(count):
        region = regions[index % len(regions)]
        password = f"Sim-{rng.randrange(16**8):08x}-{rng.randrange(16**4):04x}"
        accounts.append(
            SimAccount(
                username=f"patient{index + 1:03d}.{region}@example.com",
                password=password,
                region=region,
                account_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                utc_offset_minutes=rng.choice(_TYPICAL_UTC_OFFSETS[region]),
            )
        )
    return accounts
