"""What Nightscout expects of a glucose entry, shared by every vendor's transform and simulator."""

from __future__ import annotations

# Nightscout's direction names, indexed by the trend number Dexcom and Nightscout both use.
DIRECTIONS: tuple[str, ...] = (
    "NONE",
    "DoubleUp",
    "SingleUp",
    "FortyFiveUp",
    "Flat",
    "FortyFiveDown",
    "SingleDown",
    "DoubleDown",
    "NOT COMPUTABLE",
    "RATE OUT OF RANGE",
)
# The seven real arrows, steepest rise first.
ARROWS: tuple[str, ...] = DIRECTIONS[1:8]

# Nightscout v3 requires date > 946684800000 (2000-01-01T00:00:00Z).
MIN_DATE_MS_EXCLUSIVE = 946_684_800_000
# A reading "from the future" by more than this is a time-zone or clock bug.
MAX_AHEAD_MS = 60 * 60 * 1000
