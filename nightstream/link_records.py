"""Between a configured link (``LinkSettings``, clear credentials) and its links-topic record
(credentials encrypted)."""

from __future__ import annotations

from nightstream.config import LinkSettings
from nightstream.schemas.records import LinkRecord
from nightstream.sources.link_credentials import Credentials, LinkKeyring, MissingKeyring
from nightstream.sources.secret import Secret


def record_of(link: LinkSettings, keyring: LinkKeyring, now_ms: int, *, paused: bool) -> LinkRecord:
    credentials = Credentials(Secret(link.username), Secret(link.password.get_secret_value()))
    return LinkRecord(
        id=link.id,
        vendor=link.vendor,
        credentials=keyring.encrypt(credentials),
        targets=list(link.targets),
        updated_at_ms=now_ms,
        poll_interval_seconds=link.poll_interval_seconds,
        paused=paused,
        region=link.region,
        server_url=link.server_url,
        patient_id=link.patient_id,
        llu_version=link.llu_version,
        timezone=link.timezone,
    )


def settings_of(record: LinkRecord, keyring: LinkKeyring | MissingKeyring) -> LinkSettings:
    """Decrypt and validate; raises LinkKeyError or pydantic's ValidationError."""
    credentials = keyring.decrypt(record.credentials, record.id)
    return LinkSettings.model_validate(
        {
            "id": record.id,
            "vendor": record.vendor,
            "username": credentials.username.reveal(),
            "password": credentials.password.reveal(),
            "region": record.region,
            "server_url": record.server_url,
            "patient_id": record.patient_id,
            "llu_version": record.llu_version,
            "timezone": record.timezone,
            "targets": record.targets,
            "poll_interval_seconds": record.poll_interval_seconds,
        }
    )
