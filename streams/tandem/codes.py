"""The Tandem event codes nightstream maps, by what they become (vendors-tandem.md §2.4, §3.3).

Every other code (daily records, Control-IQ state, BG entries, per-bolus delivery details,
codes nobody has documented) is passed over: the raw topic keeps it, and a later version can
map it by replaying.
"""

from __future__ import annotations

CGM_READINGS = frozenset({256, 399, 372, 480})
BASAL_DELIVERY = 279
BOLUS_COMPLETED = 20
BOLEX_COMPLETED = 21
BOLUS_REQUESTED = 64
SUSPENDED = 11
RESUMED = 12
CARTRIDGE_FILLED = 33
CANNULA_FILLED = 61
TUBING_FILLED = 63
ALARM = 5
MALFUNCTION = 6
CGM_ALERTS = frozenset({171, 369, 460})
DEXCOM_CGM_ALERTS = frozenset({369})
SENSOR_STARTED = frozenset({212, 404})
SENSOR_JOINED = frozenset({213, 394, 406, 477})
SENSOR_STOPPED = frozenset({214, 447, 405, 486})
DAILY_BASAL = 81

MAPPED_CODES = frozenset(
    {
        *CGM_READINGS,
        BASAL_DELIVERY,
        BOLUS_COMPLETED,
        BOLEX_COMPLETED,
        BOLUS_REQUESTED,
        SUSPENDED,
        RESUMED,
        CARTRIDGE_FILLED,
        CANNULA_FILLED,
        TUBING_FILLED,
        ALARM,
        MALFUNCTION,
        *CGM_ALERTS,
        *SENSOR_STARTED,
        *SENSOR_JOINED,
        *SENSOR_STOPPED,
        DAILY_BASAL,
    }
)

# Names from the reference; other ids are shown by number (nothing is made up).
ALARM_NAMES = {2: "Occlusion", 8: "Empty Cartridge"}
RESUME_ALARMS = frozenset({18, 23})
"""'Resume pump' reminders: not alarms a user needs in Nightscout (as tconnectsync)."""
DEXCOM_OUT_OF_RANGE = 14
SUSPEND_REASONS = {0: "User Aborted", 1: "Alarm", 2: "Malfunction", 6: "Auto Suspend by PLGS"}
BASAL_SOURCES = {
    0: "Suspended",
    1: "Profile",
    2: "Temp Rate",
    3: "Algorithm",
    4: "Temp Rate and Algorithm",
}
BOLUS_COMPLETION = {
    0: "stopped by the user",
    1: "stopped by an alarm",
    2: "stopped by a malfunction",
    3: "completed",
    5: "rejected",
    6: "stopped by Basal-IQ / Control-IQ",
}
COMPLETED = 3
