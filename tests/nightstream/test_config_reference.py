"""docs/configuration.md is what the generator makes of the settings model, and names every key."""

from __future__ import annotations

from pathlib import Path

import pytest

from nightstream import config_notes
from nightstream.config import LinkSettings, TargetSettings
from nightstream.config_reference import IncompleteReference, other_variables, render, sections

PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_committed_page_is_the_generated_one() -> None:
    assert PAGE.read_text(encoding="utf-8") == render(), (
        "docs/configuration.md is out of date: python -m nightstream.config_reference "
        "> docs/configuration.md"
    )


def test_every_key_of_targets_and_links_is_described() -> None:
    by_path = {section.path: section for section in sections()}
    assert [key.name for key in by_path["targets"].keys] == list(TargetSettings.model_fields)
    assert [key.name for key in by_path["links"].keys] == list(LinkSettings.model_fields)
    assert {"", "kafka", "processor", "vendors.tandem", "sink"} <= set(by_path)
    url = next(key for key in by_path["targets"].keys if key.name == "url")
    assert url.variables == (
        "NIGHTSTREAM_TARGETS__<NAME>__URL",
        "CONNECT_NIGHTSCOUT_ENDPOINT",
        "NIGHTSCOUT_URL",
    )
    assert url.default == "required"


def test_a_key_without_meaning_stops_the_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    notes = dict(config_notes.FIELDS)
    del notes["kafka.partitions"]
    monkeypatch.setattr(config_notes, "FIELDS", notes)
    with pytest.raises(IncompleteReference, match=r"kafka\.partitions: no meaning"):
        render()


def test_a_note_for_a_key_that_is_gone_stops_the_generation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(config_notes, "FIELDS", {**config_notes.FIELDS, "kafka.gone": "x"})
    with pytest.raises(IncompleteReference, match=r"kafka\.gone"):
        render()


def test_every_variable_read_outside_the_model_is_described(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert "NIGHTSTREAM_CONFIG" in dict(other_variables())
    notes = dict(config_notes.VARIABLES)
    del notes["CONFIG"]
    monkeypatch.setattr(config_notes, "VARIABLES", notes)
    with pytest.raises(IncompleteReference, match=r"missing \['CONFIG'\]"):
        render()
