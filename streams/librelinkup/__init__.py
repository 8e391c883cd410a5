"""LibreLinkUp: graph answers as Nightscout entries and Sensor Start treatments."""

from nightstream.streams.librelinkup.transform import transform

__all__ = ["transform"]
