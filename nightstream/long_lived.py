"""Long-lived objects out of the garbage collector's way.

A sink for 10,000 sites holds about 660,000 tracked objects once built (a client, a lane and
their settings per site), all alive until it stops. CPython's full collections walk every one of
them again: 0.3 s of CPU each, several seconds of a stalled event loop on a shared machine, which
was the tail of the sink's delivery latency (``bench/delivery_scale.py``).
``gc.freeze()`` moves them to a generation no collection scans; what is created afterwards is
collected as usual, and frozen objects are still freed when their last reference goes. What is
in flight at that moment (a few dozen requests at most, with the shared limit) is frozen too: if
it ends in a reference cycle it is never collected, a small one-time cost.
"""

from __future__ import annotations

import gc


def freeze_long_lived() -> None:
    """Collect once, then leave everything alive now out of later collections (call it once
    the process has built what it keeps until it stops)."""
    gc.collect()
    gc.freeze()
