"""Sync identities: the same ``identifier`` the Nightscout server computes when a client sends none.

UUIDv5 in the namespace made of the bytes ``NightscoutRocks!`` over ``device_date`` plus
``_eventType`` when there is one. Entries have no eventType; for entries whose type is not
``sgv`` the type takes that slot, so a calibration and a reading at the same ms do not collide.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping

NIGHTSCOUT_NAMESPACE = uuid.UUID("4e696768-7473-636f-7574-526f636b7321")
assert NIGHTSCOUT_NAMESPACE.bytes == b"NightscoutRocks!"


def nightscout_identifier(device: str, date_ms: int, event_type: str | None = None) -> str:
    key = f"{device}_{date_ms}"
    if event_type:
        key = f"{key}_{event_type}"
    return str(uuid.uuid5(NIGHTSCOUT_NAMESPACE, key))


def entry_identifier(device: str, date_ms: int, entry_type: str | None) -> str:
    slot = None if entry_type in (None, "sgv") else entry_type
    return nightscout_identifier(device, date_ms, slot)


def stream_digest(vendor_stream_id: str) -> str:
    """12 hex characters of the SHA-256 of what names a stream at the vendor.

    ``vendor_stream_id`` is the account id, patient id or pump serial; it never leaves the poller
    in clear. Pollers put the digest in ``RawPayload.request_params["stream"]``.
    """
    return hashlib.sha256(vendor_stream_id.encode("utf-8")).hexdigest()[:12]


def device_name(vendor: str, digest: str) -> str:
    """The ``device`` of every document of one vendor-side stream: stable forever."""
    return f"nightstream://{vendor}/{digest}"


def payload_stream(vendor: str, request_params: Mapping[str, str]) -> str | None:
    """The stream a raw payload belongs to, from the digest its poller put in
    ``request_params["stream"]``; None when the poller did not know it yet."""
    digest = request_params.get("stream", "")
    return device_name(vendor, digest) if digest else None
