"""Log lines: aiokafka's routine retries are not errors, JSON lines, levels in any case."""

from __future__ import annotations

import json
import logging

from aiokafka.errors import GroupAuthorizationFailedError, GroupCoordinatorNotAvailableError
from click.testing import CliRunner

from nightstream.cli import main
from nightstream.config import load_settings
from nightstream.log_setup import RetriedLookupFilter, formatter
from nightstream.streams.payloads import PayloadTotals

COORDINATOR = "aiokafka.consumer.group_coordinator"


def _lookup_failed(error: Exception) -> logging.LogRecord:
    return logging.makeLogRecord(
        {
            "name": COORDINATOR,
            "levelno": logging.ERROR,
            "levelname": "ERROR",
            "msg": "Group Coordinator Request failed: %s",
            "args": (error,),
        }
    )


def test_a_retried_coordinator_lookup_is_no_error() -> None:
    logging.getLogger(COORDINATOR).setLevel(logging.WARNING)
    record = _lookup_failed(GroupCoordinatorNotAvailableError())
    assert RetriedLookupFilter().filter(record) is False
    assert record.levelname == "DEBUG"


def test_a_retried_coordinator_lookup_shows_when_debugging() -> None:
    logger = logging.getLogger(COORDINATOR)
    logger.setLevel(logging.DEBUG)
    try:
        assert RetriedLookupFilter().filter(_lookup_failed(GroupCoordinatorNotAvailableError()))
    finally:
        logger.setLevel(logging.NOTSET)


def test_a_lookup_aiokafka_gives_up_on_stays_an_error() -> None:
    record = _lookup_failed(GroupAuthorizationFailedError())
    assert RetriedLookupFilter().filter(record) is True
    assert record.levelname == "ERROR"


def test_json_lines_carry_utc_time_level_logger_and_message() -> None:
    record = logging.makeLogRecord(
        {
            "name": "nightstream.streams.processor",
            "levelno": 20,
            "levelname": "INFO",
            "msg": "a %s",
            "args": ("b",),
        }
    )
    line = json.loads(formatter("json").format(record))
    assert {k: line[k] for k in ("level", "logger", "message")} == {
        "level": "INFO",
        "logger": "nightstream.streams.processor",
        "message": "a b",
    }
    assert line["time"].endswith("+00:00")


def test_log_level_and_format_in_any_case() -> None:
    settings = load_settings({"NIGHTSTREAM_LOG_LEVEL": "debug", "NIGHTSTREAM_LOG_FORMAT": "JSON"})
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")
    help_text = CliRunner().invoke(main, ["process", "--help"]).output
    assert "--log-format [text|json]" in help_text
    lower = CliRunner().invoke(main, ["process", "--log-level", "debug", "--config", "none.toml"])
    assert "config file none.toml does not exist" in lower.output
    refused = CliRunner().invoke(main, ["process", "--log-level", "loud"])
    assert refused.exit_code == 2
    assert "'loud' is not one of" in refused.output


def test_final_totals_are_words() -> None:
    totals = PayloadTotals(payloads=3, emitted=5, unchanged=2, rejected=1, other_links=0)
    assert totals.describe() == (
        "3 payload(s) read, 5 document(s) emitted, 2 unchanged, 1 to the DLQ, "
        "0 of other links skipped"
    )
