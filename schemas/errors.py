"""Errors shared by every stage.

NightstreamError
├── SchemaError             a schema file is missing or invalid
├── RecordDecodeError       bytes on a topic could not be decoded (names topic/partition/offset)
├── RecordEncodeError       a record does not fit its schema
├── LinkFatalError          one link must stop until the user acts (bad password, terms, ...)
├── TargetFatalError        one Nightscout target must stop until the user acts
├── RetriableError          try again later (timeouts, 5xx, 429); may carry retry_after
└── BadRecordError          this one record is bad; send it to the DLQ and go on
"""

from __future__ import annotations


class NightstreamError(Exception):
    """Base of every error nightstream raises on purpose."""


class SchemaError(NightstreamError):
    pass


class RecordEncodeError(NightstreamError):
    pass


class RecordDecodeError(NightstreamError):
    def __init__(
        self, reason: str, *, topic: str | None, partition: int | None, offset: int | None
    ) -> None:
        self.reason = reason
        self.topic = topic
        self.partition = partition
        self.offset = offset
        where = f"topic={topic} partition={partition} offset={offset}"
        super().__init__(f"cannot decode record at {where}: {reason}")


class LinkFatalError(NightstreamError):
    """A link cannot go on until its user does something; the message says what."""

    def __init__(self, link_id: str, message: str) -> None:
        self.link_id = link_id
        self.user_message = message
        super().__init__(f"link {link_id} stopped: {message}")


class TargetFatalError(NightstreamError):
    """A Nightscout target cannot be written until its owner does something."""

    def __init__(self, target: str, message: str) -> None:
        self.target = target
        self.user_message = message
        super().__init__(f"target {target} stopped: {message}")


class RetriableError(NightstreamError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class BadRecordError(NightstreamError):
    """One record is bad; the caller sends it to the DLQ with this reason."""

    def __init__(self, reason: str, fragment: bytes | None = None) -> None:
        self.reason = reason
        self.fragment = fragment
        super().__init__(reason)
