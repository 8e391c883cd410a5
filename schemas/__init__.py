"""The wire contract of nightstream: Avro schemas, records, serde, topic catalog, identity.

This package imports nothing from ``sources``, ``streams`` or ``sinks``; they all import it.
"""
