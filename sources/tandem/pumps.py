"""The pumps of a Tandem account (``bff/pumper``) and which one a link follows.

``maxDateOfEvents`` is a pump-local time without zone; it is only compared with itself (has the
pump uploaded since?) and between pumps of one account, never with a UTC clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nightstream.schemas.errors import LinkFatalError, RetriableError
from nightstream.schemas.identity import stream_digest
from nightstream.sources.tandem import errors


@dataclass(frozen=True, slots=True)
class Pump:
    assignment_id: str
    serial: str
    model: str
    max_date_of_events: str | None

    @property
    def digest(self) -> str:
        """``stream_digest`` of the assignment: what names this pump's stream."""
        return stream_digest(self.assignment_id.strip().lower())

    @property
    def uploaded(self) -> bool:
        return self.max_date_of_events is not None

    def describe(self) -> str:
        last = self.max_date_of_events or "never uploaded"
        return f"{self.model} serial {self.serial} (newest event {last})"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def read_pumps(pumper: Any) -> list[Pump]:
    """The pumps of a ``bff/pumper`` answer; RetriableError when it has no pump list at all."""
    pumps = pumper.get("pumps") if isinstance(pumper, dict) else None
    if not isinstance(pumps, list):
        raise RetriableError("Tandem's pumper answer has no pump list")
    found = []
    for pump in pumps:
        if not isinstance(pump, dict):
            continue
        assignment, serial = _text(pump.get("assignmentId")), pump.get("serialNumber")
        if assignment is None or not isinstance(serial, str | int):
            continue
        model = _text(pump.get("modelName")) or _text(pump.get("modelNumber")) or "pump"
        found.append(Pump(assignment, str(serial), model, _text(pump.get("maxDateOfEvents"))))
    return found


def choose_pump(link_id: str, pumps: list[Pump], serial: str | None) -> Pump:
    """The configured serial's pump, else the pump with the newest events (never-uploaded pumps
    only when nothing else is there)."""
    if serial is not None:
        for pump in pumps:
            if pump.serial == serial.strip():
                return pump
        raise LinkFatalError(
            link_id, errors.serial_not_found(link_id, serial, [p.serial for p in pumps])
        )
    uploaded = [pump for pump in pumps if pump.uploaded]
    if not uploaded:
        raise LinkFatalError(link_id, errors.no_pump(link_id))
    # ISO-shaped local times compare as text.
    return max(uploaded, key=lambda pump: pump.max_date_of_events or "")
