"""A Tandem link in the settings becomes a Tandem poll source with what the link says."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from nightstream.config import load_settings
from nightstream.roles import build_poll_source
from nightstream.sources.tandem.cursor import PumpCursor
from nightstream.sources.tandem.poll_source import TandemPollSource
from nightstream.sources.tandem.protocol import EU_CLIENT_ID

CONFIG = """
[targets.home]
url = "https://ns.example.org"
token = "nightstream-0123456789abcdef"

[[links]]
id = "pat-us"
vendor = "tandem"
username = "pat@example.org"
password = "pw"
timezone = "America/Chicago"
pump_serial = "11223344"
backfill_days = 3
client_id = "0oa27ho9tpZE9Arjy4h7"
targets = ["home"]

[[links]]
id = "pat-eu"
vendor = "tandem"
username = "pat@example.eu"
password = "pw"
region = "eu"
timezone = "Europe/Vienna"
targets = ["home"]
"""


async def test_tandem_links_build_their_poll_sources(tmp_path: Path) -> None:
    path = tmp_path / "nightstream.toml"
    path.write_text(CONFIG, encoding="utf-8")
    settings = load_settings({}, path)
    us, eu = (build_poll_source(link) for link in settings.links)
    assert isinstance(us, TandemPollSource)
    assert isinstance(eu, TandemPollSource)
    assert (us.vendor, us.link_id, us.timezone) == ("tandem", "pat-us", "America/Chicago")
    assert us.client.hosts.region == "us"
    assert us.client.hosts.client_id == "0oa27ho9tpZE9Arjy4h7"  # not US_CLIENT_ID
    assert us.client.hosts.login_url.startswith("https://tdcservices.tandemdiabetes.com/")
    assert eu.client.hosts.client_id == EU_CLIENT_ID
    assert eu.client.hosts.source == "https://source.eu.tandemdiabetes.com/"
    # backfill_days = 3: the first window starts two days before today.
    today = us.today(1_781_000_000_000)
    assert us.window(PumpCursor(), today) == (today - timedelta(days=2), today)
    for source in (us, eu):
        await source.aclose()
