"""A replay's consumer group and its site's name in the answer store, from link, site, window."""

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
    assert (first.site, first.group_id) == (again.site, again.group_id)
    key = site_key("https://a.example.org")
    assert first.site == f"replay-{key}"
    assert first.group_id == f"ns-replay-p1-{key}"


def test_another_site_or_link_gets_other_names() -> None:
    base = plan_replay("ns", "p1", _target("https://a.example.org"), DateWindow())
    other_site = plan_replay("ns", "p1", _target("https://b.example.org"), DateWindow())
    other_link = plan_replay("ns", "p2", _target("https://a.example.org"), DateWindow())
    assert len({base.group_id, other_site.group_id, other_link.group_id}) == 3
    assert base.site != other_site.site
    assert base.site == other_link.site, "a site's answers do not depend on the link"


def test_a_window_has_its_own_group_but_shares_the_sites_acknowledged_hashes() -> None:
    full = plan_replay("ns", "p1", _target("https://a.example.org"), DateWindow())
    window = plan_replay("ns", "p1", _target("https://a.example.org"), DateWindow(0, 1000))
    other = plan_replay("ns", "p1", _target("https://a.example.org"), DateWindow(0, 2000))
    assert window.site == full.site
    assert len({full.group_id, window.group_id, other.group_id}) == 3
    assert window.group_id.startswith(full.group_id + "-")


def test_a_configured_target_with_the_same_url_names_the_site() -> None:
    configured = {"home": "https://ns.example.org/", "clinic": "https://c.example.org"}
    plan = plan_replay("ns", "p1", _target("HTTPS://NS.example.org"), DateWindow(), configured)
    assert plan.site == "home", "a sink for that target must find what the replay wrote"
    elsewhere = plan_replay("ns", "p1", _target("https://x.example.org"), DateWindow(), configured)
    assert elsewhere.site == f"replay-{site_key('https://x.example.org')}"


def test_a_link_id_must_be_usable_in_a_topic_name() -> None:
    with pytest.raises(ValueError, match="not a link id"):
        plan_replay("ns", "P 1", _target("https://a.example.org"), DateWindow())
