"""What became of one document sent to Nightscout."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from nightstream.schemas.documents import Collection

_IMMUTABLE_FIELD = re.compile(r"Field (\S+) cannot be modified by the client")


class WriteStatus(StrEnum):
    WRITTEN_CREATED = "written_created"
    """v3 PUT answered 201: the document did not exist and was inserted."""
    WRITTEN_REPLACED = "written_replaced"
    """v3 PUT answered 200: an existing document was replaced by this one."""
    WRITTEN_V1 = "written_v1"
    """Accepted by a v1 batch POST, which does not say whether it inserted or replaced."""
    DELETED_BY_USER = "deleted_by_user"
    """v3 PUT answered 410: the user deleted this document in Nightscout; it must stay deleted."""
    REJECTED = "rejected"
    """Nightscout (or the client, before sending) refused this document; retrying cannot help."""


@dataclass(frozen=True)
class WriteOutcome:
    status: WriteStatus
    collection: Collection
    identifier: str | None
    http_status: int | None = None
    """None when the client decided without asking the server."""
    message: str | None = None
    """The server's (or the client's) reason, for REJECTED; secrets already removed."""
    last_modified: int | None = None
    """Server ``srvModified`` in ms after the write, when the server reported it."""

    @property
    def written(self) -> bool:
        return self.status in (
            WriteStatus.WRITTEN_CREATED,
            WriteStatus.WRITTEN_REPLACED,
            WriteStatus.WRITTEN_V1,
        )

    @property
    def immutable_field(self) -> str | None:
        """The field named by a 400 ``Field X cannot be modified by the client``.

        It means another document already owns this identifier (or a v1 document matched the
        server's fallback keys) with a different value for X.
        """
        if self.status is not WriteStatus.REJECTED or not self.message:
            return None
        match = _IMMUTABLE_FIELD.search(self.message)
        return match.group(1) if match else None
