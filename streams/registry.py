"""Which pure transform handles which vendor's raw topic."""

from __future__ import annotations

from nightstream.streams.dexcomshare import transform as dexcomshare_transform
from nightstream.streams.librelinkup import transform as librelinkup_transform
from nightstream.streams.tandem import transform as tandem_transform
from nightstream.streams.transform import Transform

TRANSFORMS: dict[str, Transform] = {
    "dexcomshare": dexcomshare_transform,
    "librelinkup": librelinkup_transform,
    "tandem": tandem_transform,
}
