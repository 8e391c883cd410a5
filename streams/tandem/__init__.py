"""Tandem Source: pump-log answers as Nightscout entries, treatments and devicestatus."""

from nightstream.streams.tandem.transform import transform

__all__ = ["transform"]
