"""LibreLinkUp: graph answers as Nightscout entries and Sensor Start treatments."""

from streams.librelinkup.transform import transform

__all__ = ["transform"]
