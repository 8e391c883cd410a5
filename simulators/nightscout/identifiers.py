"""Document identifiers: the server's UUIDv5 and MongoDB ObjectId strings."""

from __future__ import annotations

import itertools
import os
import re
import uuid
from typing import Any, Final

from nightstream.simulators.nightscout import js_semantics as js

# `shared/operationTools.js`: the 16 ASCII bytes of "NightscoutRocks!".
IDENTIFIER_NAMESPACE: Final = uuid.UUID(bytes=b"NightscoutRocks!")

_OBJECT_ID_HEX = re.compile(r"[0-9a-fA-F]{24}", re.ASCII)
_object_id_counter = itertools.count(int.from_bytes(os.urandom(3), "big"))
_object_id_process_part = os.urandom(5)


def calculate_identifier(document: dict[str, Any]) -> str:
    """``device + "_" + date`` plus ``"_" + eventType`` when truthy, with JavaScript's String()."""
    key = (
        js.to_string(document.get("device", js.UNDEFINED))
        + "_"
        + js.to_string(document.get("date", js.UNDEFINED))
    )
    event_type = document.get("eventType", js.UNDEFINED)
    if js.is_truthy(event_type):
        key += "_" + js.to_string(event_type)
    return str(uuid.uuid5(IDENTIFIER_NAMESPACE, key))


def is_object_id_hex(value: Any) -> bool:
    return isinstance(value, str) and _OBJECT_ID_HEX.fullmatch(value) is not None


def new_object_id(epoch_seconds: float) -> str:
    """A MongoDB ObjectId as lower-case hex: timestamp, per-process random, counter."""
    counter = next(_object_id_counter) % 0x1000000
    raw = (
        (int(epoch_seconds) % 2**32).to_bytes(4, "big")
        + _object_id_process_part
        + counter.to_bytes(3, "big")
    )
    return raw.hex()
