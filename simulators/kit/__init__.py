"""What the vendor simulators share: the server and its transport knobs (failures, latency,
outages), admin routes, login lockouts, a plausible glucose curve, and process helpers.

Clocks live in ``sources.simclock``. Vendor protocol (paths, envelopes, error codes, accounts)
stays in each vendor's ``simulator`` package, which imports this one and never another vendor.
"""
