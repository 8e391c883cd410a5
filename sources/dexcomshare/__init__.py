"""Dexcom Share: client, simulator and (later) poller for one vendor.

The client talks to the Share web services and hands back response bodies untouched; the
simulator behaves like those services for tests and the demo.
"""
