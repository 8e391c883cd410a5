"""Which pure transform handles which vendor's raw topic."""

from __future__ import annotations

from streams.dexcomshare import transform as dexcomshare_transform
from streams.librelinkup import transform as librelinkup_transform
from streams.tandem import transform as tandem_transform
from streams.transform import Transform

TRANSFORMS: dict[str, Transform] = {
    "dexcomshare": dexcomshare_transform,
    "librelinkup": librelinkup_transform,
    "tandem": tandem_transform,
}
