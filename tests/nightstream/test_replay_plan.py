"""A replay's consumer group and acknowledged-hashes changelog, from the link, site and window."""

from __future__ import annotations

import pytest

from nightstream.replay import plan_replay, site_key
from nightstream.sinks.nightscout.client import NightscoutTargetConfig
from nightstream.sinks.nightscout.date_window import DateWindow


def _target(url: str) -> NightscoutTargetConfig:
    return NightscoutTargetConfig(name="replay", base_url=url, access_token="t-0123456789")


def test_the_same_site_gives_the_same_names_run_after_run() -> None:
    first = plan_replay("ns", "p1", _target("https://a.example.org"), DateWindow())
    again = plan_replay("ns", "p1", _target("https://A.example.org/"), DateWindow())
    assert (first.sink_name, first.group_id) == (again.sink_name, again.group_id)
    assert first.sink_name == f"replay-p1-{site_key('https://a.example.org')}"
    assert first.group_id == f"ns-{first.sink_name}"


def test_another_site_or_link_gets_other_names() -> None:
    base = plan_replay("ns", "p1", _target("https://a.example.org"), DateWindow())
    other_site = plan_replay("ns", "p1", _target("https://b.example.org"), DateWindow())
    other_link = plan_replay("ns", "p2", _target("https://a.example.org"), DateWindow())
    assert len({base.group_id, other_site.group_id, other_link.group_id}) == 3
    assert len({base.sink_name, other_site.sink_name, other_link.sink_name}) == 3


def test_a_window_has_its_own_group_but_shares_the_sites_acknowledged_hashes() -> None:
    full = plan_replay("ns", "p1", _target("https://a.example.org"), DateWindow())
    window = plan_replay("ns", "p1", _target("https://a.example.org"), DateWindow(0, 1000))
    other = plan_replay("ns", "p1", _target("https://a.example.org"), DateWindow(0, 2000))
    assert window.sink_name == full.sink_name
    assert len({full.group_id, window.group_id, other.group_id}) == 3
    assert window.group_id.startswith(full.group_id + "-")


def test_a_link_id_must_be_usable_in_a_topic_name() -> None:
    with pytest.raises(ValueError, match="not a link id"):
        plan_replay("ns", "P 1", _target("https://a.example.org"), DateWindow())
