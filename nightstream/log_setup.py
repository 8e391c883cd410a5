"""Logging for the roles: plain lines or one JSON object per line, and quiet libraries."""

from __future__ import annotations

import logging
import sys
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["text", "json"]
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# httpcore's DEBUG lines hold response headers, session cookies (Tandem's login) included.
_NOISY = ("aiokafka", "faust", "mode", "httpx", "httpcore", "kafka")


class RetriedLookupFilter(logging.Filter):
    """aiokafka logs a failed group-coordinator lookup as an ERROR and retries it; on a fresh
    cluster (no ``__consumer_offsets`` yet) or during a broker restart that is routine. Retriable
    failures become DEBUG lines; a failure aiokafka gives up on stays an ERROR."""

    def filter(self, record: logging.LogRecord) -> bool:
        failure = record.args[0] if isinstance(record.args, tuple) and record.args else None
        if record.msg != "Group Coordinator Request failed: %s" or not getattr(
            failure, "retriable", False
        ):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def formatter(log_format: LogFormat) -> logging.Formatter:
    if log_format == "json":
        # "time": ISO 8601 in UTC, from the record's creation time.
        return JsonFormatter(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
        )
    return logging.Formatter(_TEXT)


def setup_logging(level: str, log_format: LogFormat = "text") -> None:
    """Log ``level`` and above to stderr; libraries only from WARNING (or ``level``) up."""
    level = level.upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=level, handlers=[handler])
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    if not any(isinstance(f, RetriedLookupFilter) for f in coordinator.filters):
        coordinator.addFilter(RetriedLookupFilter())
