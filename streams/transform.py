"""What every vendor transform returns: documents, and the fragments it had to reject.

A transform is pure: no clock, no environment, no I/O. Given the same RawPayload it returns the
same output, forever. A bad item inside a payload is rejected on its own; the rest goes on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from schemas.documents import NsRecord
from schemas.records import RawPayload

APP_NAME = "nightstream"


@dataclass(frozen=True)
class Rejected:
    reason: str
    fragment: bytes


@dataclass
class TransformOutput:
    records: list[NsRecord] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


Transform = Callable[[RawPayload], TransformOutput]


def json_int(text: str) -> int | float:
    """``parse_int`` for JSON decoders: a number too long for Python's ``int`` (more than 4300
    digits) becomes infinite, so that it rejects the one item holding it (not a finite number)
    instead of making the whole body unreadable."""
    try:
        return int(text)
    except ValueError:
        return -math.inf if text.startswith("-") else math.inf
