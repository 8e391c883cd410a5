"""Dexcom Share: readings from ReadPublisherLatestGlucoseValues as Nightscout entries."""

from nightstream.streams.dexcomshare.transform import transform

__all__ = ["transform"]
