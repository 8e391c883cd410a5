"""What every vendor transform returns: documents, and the fragments it had to reject.

A transform is pure: no clock, no environment, no I/O. Given the same RawPayload it returns the
same output, forever. A bad item inside a payload is rejected on its own; the rest goes on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from nightstream.schemas.documents import NsRecord
from nightstream.schemas.errors import BadRecordError
from nightstream.schemas.records import RawPayload

APP_NAME = "nightstream"
_STREAM_DIGEST = re.compile(r"[0-9a-f]{12}", re.ASCII)


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


def stream_digest(raw: RawPayload) -> str:
    """The digest the poller put in ``request_params["stream"]``, which names the documents'
    device and identifiers; BadRecordError when it is missing or not 12 lowercase hex."""
    digest = raw.request_params.get("stream", "")
    if not _STREAM_DIGEST.fullmatch(digest):
        raise BadRecordError(
            "request_params has no valid stream digest (12 lowercase hex): the documents' "
            "device and identifiers cannot be named"
        )
    return digest
