"""Vendor cloud simulators and the Nightscout test server: for tests, benchmarks and the demo.

Not on the production path; installed with the ``simulators`` extra (aiohttp)."""
