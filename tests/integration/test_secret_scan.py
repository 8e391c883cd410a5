"""No secret in anything the pipeline writes: process logs, any record of any of the run's topics
(raw, ns.*, DLQ, cursors, the sinks' and faust's changelogs), dead letters, and what the CLI
prints. The run goes through the error paths too: a wrong vendor password per vendor, a revoked
Nightscout token (401), a token without write permission (403), bad readings to the DLQ.
Each secret is looked for as is, URL-encoded, JSON-escaped and base64-encoded (at every byte
alignment, so it is found inside a longer base64 text such as a JWT payload)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from nightstream.kafka_offsets import group_lag
from nightstream.schemas.documents import Collection
from nightstream.schemas.topics import TopicNames
from nightstream.simulators.dexcomshare import ShareSimulator, SimAccount
from nightstream.simulators.librelinkup import LluAccount, LluSimulator, SimPatient
from nightstream.simulators.librelinkup.tickets import Ticket, TicketStore
from nightstream.simulators.nightscout import NightscoutTestServer
from nightstream.simulators.tandem import SimPump, TandemAccount, TandemSimulator
from nightstream.sources.librelinkup.hosts import REGION_PLACEHOLDER
from tests.integration.pipeline import LinkSpec, Pipeline, wait_until
from tests.integration.topic_records import read_topic, topics_with_prefix
from tests.timing import scaled

pytestmark = pytest.mark.kafka

UPLOADER = ["api:*:create", "api:*:update", "api:*:read"]
# Distinctive, and full of characters that URL and JSON encoders change.
DEXCOM_PASSWORD = "Dx+Pw/9c#e4!b7f3a9"
DEXCOM_WRONG_PASSWORD = "Wr0ng+Dx/Pw#c3d4e5"
LLU_PASSWORD = "Llu&Pw=5d2e?a8c1b0"
LLU_WRONG_PASSWORD = "Wr0ng&Llu=Pw?f6a7b8"
LLU_VERSION = "4.16.0"
TANDEM_PASSWORD = "Tdm%Pw&7e1f?c2d3"
TANDEM_WRONG_PASSWORD = "Wr0ng%Tdm&Pw?a9b8"
TANDEM_EXTRA = (("timezone", "America/New_York"), ("backfill_days", "1"))


class RecordingTickets(TicketStore):
    """The simulator's ticket store, remembering every bearer token it hands out."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: list[str] = []

    def issue(self, account_key: str, region: str, expires_ms: int, *, full: bool = True) -> Ticket:
        ticket = super().issue(account_key, region, expires_ms, full=full)
        self.tokens.append(ticket.token)
        return ticket


def encoded_forms(secret: str) -> tuple[set[bytes], set[bytes]]:
    """What would betray ``secret``: (forms to find in any letter case, as in a URL's percent
    escapes or a log that upper-cases; base64 forms, whose case matters)."""
    raw = secret.encode()
    plain = {
        raw,
        quote(secret, safe="").encode(),
        quote_plus(secret).encode(),
        json.dumps(secret)[1:-1].encode(),
        json.dumps(secret)[1:-1].replace("/", "\\/").encode(),
    }
    encoded: set[bytes] = set()
    for offset in range(3):
        # The characters that depend on the secret's bytes alone, whatever surrounds it.
        text = base64.b64encode(b"\0" * offset + raw)
        core = text[-(-8 * offset // 6) : (8 * (offset + len(raw))) // 6]
        encoded |= {core, core.replace(b"+", b"-").replace(b"/", b"_")}
    return {form.lower() for form in plain}, encoded


@dataclass(frozen=True)
class Haystack:
    where: str
    data: bytes

    @cached_property
    def folded(self) -> bytes:
        return self.data.lower()


def leaks(secrets: dict[str, str], haystacks: list[Haystack]) -> list[str]:
    found = set()
    for label, secret in secrets.items():
        any_case, exact = encoded_forms(secret)
        for haystack in haystacks:
            forms = [f for f in any_case if f in haystack.folded]
            forms += [f for f in exact if f in haystack.data]
            found |= {f"{label} (as {form[:10]!r}...) in {haystack.where}" for form in forms}
    return sorted(found)


def test_the_scanner_finds_each_encoding_of_a_secret() -> None:
    secret = "Tk+n/3?&=#a1b2c3"
    secrets = {"token": secret}
    assert leaks(secrets, [Haystack("clean", b"nothing to see " * 50)]) == []
    for text in (
        b"GET /request/" + quote(secret, safe="").lower().encode() + b" 200",
        b"password=" + quote_plus(secret).encode(),
        b'{"p":' + json.dumps(secret).replace("/", "\\/").encode() + b"}",
        base64.urlsafe_b64encode(b'{"accessToken":"' + secret.encode() + b'","iat":1}'),
        base64.b64encode(b"x" + secret.encode()),
        base64.b64encode(b"xy" + secret.encode() + b"z"),
    ):
        assert leaks(secrets, [Haystack("planted", text)]) != [], text


@pytest.fixture
def pipeline(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Pipeline]:
    running = Pipeline(kafka_bootstrap, tmp_path)
    yield running
    running.stop_all()


@pytest.fixture
async def nightscout() -> AsyncIterator[NightscoutTestServer]:
    # A frozen clock: every JWT for one token is the same, so the test knows the sink's JWT.
    frozen = time.time()
    server = NightscoutTestServer(api_secret=os.urandom(12).hex(), clock=lambda: frozen)
    async with server:
        yield server


def cli(pipeline: Pipeline, *args: str) -> tuple[int, Haystack]:
    done = subprocess.run(
        [sys.executable, "-m", "nightstream.cli", *args, "--config", str(pipeline.config)],
        capture_output=True,
        timeout=scaled(60),
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("NIGHTSTREAM_")},
    )
    output = Haystack(f"`nightstream {' '.join(args)}` output", done.stdout + done.stderr)
    return done.returncode, output


async def test_no_secret_in_logs_topics_dead_letters_or_cli_output(
    pipeline: Pipeline, nightscout: NightscoutTestServer
) -> None:
    dexcom = SimAccount("share.secret@example.com", DEXCOM_PASSWORD, region="ous")
    dexcom_other = SimAccount("share.other@example.com", "Other-Dexcom-1", region="ous")
    patient = SimPatient(str(uuid.uuid4()), "Sam")
    llu = LluAccount("llu.secret@example.com", LLU_PASSWORD, region="eu", patients=(patient,))
    llu_other = LluAccount("llu.other@example.com", "Other-Llu-1", region="eu")
    pump = SimPump("7700007", first_event_ms=int(time.time() * 1000) - 3 * 86_400_000)
    tandem = TandemAccount("tandem.secret@example.com", TANDEM_PASSWORD, pumps=(pump,))
    tandem_other = TandemAccount("tandem.other@example.com", "Other-Tandem-1")
    token = nightscout.create_access_token("uploader", permissions=UPLOADER)
    read_only = nightscout.create_access_token("reader", permissions=["api:*:read"])
    revoked = f"revoked-{os.urandom(8).hex()}"

    async with (
        ShareSimulator([dexcom, dexcom_other]) as share,
        LluSimulator([llu, llu_other]) as libre,
        TandemSimulator([tandem, tandem_other]) as tandem_sim,
    ):
        tickets = RecordingTickets()
        libre.service.tickets = tickets
        llu_url = libre.base_url(REGION_PLACEHOLDER)
        llu_extra = (("llu_version", LLU_VERSION), ("patient_id", patient.patient_id))
        pipeline.write_config(
            {
                "ns": (nightscout.url, token),
                "readonly": (nightscout.url, read_only),
                "revoked": (nightscout.url, revoked),
            },
            [
                LinkSpec(
                    "dex-ok",
                    dexcom.username,
                    DEXCOM_PASSWORD,
                    "ous",
                    share.base_url("ous"),
                    targets=("ns", "readonly", "revoked"),
                ),
                LinkSpec(
                    "dex-wrong",
                    dexcom_other.username,
                    DEXCOM_WRONG_PASSWORD,
                    "ous",
                    share.base_url("ous"),
                ),
                LinkSpec(
                    "llu-ok",
                    llu.email,
                    LLU_PASSWORD,
                    "eu",
                    llu_url,
                    vendor="librelinkup",
                    extra=llu_extra,
                ),
                LinkSpec(
                    "llu-wrong",
                    llu_other.email,
                    LLU_WRONG_PASSWORD,
                    "eu",
                    llu_url,
                    vendor="librelinkup",
                    extra=(("llu_version", LLU_VERSION),),
                ),
                LinkSpec(
                    "tan-ok",
                    tandem.email,
                    TANDEM_PASSWORD,
                    "us",
                    tandem_sim.url,
                    vendor="tandem",
                    extra=TANDEM_EXTRA,
                ),
                LinkSpec(
                    "tan-wrong",
                    tandem_other.email,
                    TANDEM_WRONG_PASSWORD,
                    "us",
                    tandem_sim.url,
                    vendor="tandem",
                    extra=TANDEM_EXTRA,
                ),
            ],
        )
        # Debug logging: whatever the code would ever print about a request is printed.
        text = pipeline.config.read_text(encoding="utf-8")
        pipeline.config.write_text(text.replace('"INFO"', '"DEBUG"', 1), encoding="utf-8")
        await pipeline.create_topics()
        share.inject_malformed_reading(dexcom.username)
        libre.inject_malformed_points(1)
        tandem_sim.inject_malformed_events(1)

        pipeline.start("processor", "process")
        pipeline.start("sink", "sink")
        poller = pipeline.start("poll", "poll", "--once")
        await asyncio.to_thread(poller.wait, 60)
        # The wrong-password links stopped, so the one-shot poll says it did not do its job.
        assert poller.returncode == 1, pipeline.log("poll")
        poll_log = pipeline.log("poll")
        assert "link dex-wrong: stopped" in poll_log, poll_log
        assert "link llu-wrong: stopped" in poll_log, poll_log
        assert "link tan-wrong: stopped" in poll_log, poll_log

        names = TopicNames(pipeline.prefix)

        async def worked_through() -> bool:
            sink_log = pipeline.log("sink")
            stopped = all(f"target {t} stopped" in sink_log for t in ("readonly", "revoked"))
            # device is nightstream://<vendor>/<digest>
            entries = nightscout.store.documents("entries")
            vendors = {str(entry["device"]).split("/")[2] for entry in entries}
            lag = await group_lag(
                pipeline.bootstrap,
                f"{pipeline.prefix}-sink",
                [names.ns(collection) for collection in Collection],
            )
            return stopped and lag == 0 and vendors == {"dexcomshare", "librelinkup", "tandem"}

        await wait_until(worked_through, within=75, what="documents and both target failures")
        commands = [
            ("config", "check"),
            *[
                ("check-login", link)
                for link in ("dex-ok", "dex-wrong", "llu-ok", "llu-wrong", "tan-ok", "tan-wrong")
            ],
            ("topics", "tail", names.dlq, "--limit", "20"),
            ("topics", "tail", names.raw("librelinkup"), "--limit", "5"),
            ("topics", "tail", names.raw("dexcomshare"), "--limit", "5"),
            ("topics", "tail", names.raw("tandem"), "--limit", "5"),
        ]
        # In threads: the simulators answer on this event loop.
        done = await asyncio.gather(*(asyncio.to_thread(cli, pipeline, *c) for c in commands))
        runs = {" ".join(command): run for command, run in zip(commands, done, strict=True)}
        codes = {command: code for command, (code, _) in runs.items()}
        assert codes == {" ".join(c): 1 if c[-1].endswith("wrong") else 0 for c in commands}
        await asyncio.to_thread(pipeline.stop_all)
        sessions = share.service.sessions.active_ids()
        tandem_issued = list(tandem_sim.service.issued)

    secrets = {
        "Dexcom password": DEXCOM_PASSWORD,
        "wrong Dexcom password": DEXCOM_WRONG_PASSWORD,
        "LibreLinkUp password": LLU_PASSWORD,
        "wrong LibreLinkUp password": LLU_WRONG_PASSWORD,
        "Nightscout token": token,
        "read-only Nightscout token": read_only,
        "revoked Nightscout token": revoked,
        "Nightscout JWT": nightscout.issue_jwt(token),
        "read-only Nightscout JWT": nightscout.issue_jwt(read_only),
        "Dexcom account id": dexcom.account_id,
        "Tandem password": TANDEM_PASSWORD,
        "wrong Tandem password": TANDEM_WRONG_PASSWORD,
        "Tandem pumper id": tandem.pumper_id,
    }
    assert sessions, "the run never logged in to Dexcom Share"
    secrets |= {f"Dexcom session {n}": session for n, session in enumerate(sessions)}
    assert tickets.tokens, "the run never logged in to LibreLinkUp"
    secrets |= {f"LibreLinkUp ticket {n}": ticket for n, ticket in enumerate(tickets.tokens)}
    assert tandem_issued, "the run never logged in to Tandem Source"
    secrets |= {f"Tandem token or code {n}": value for n, value in enumerate(tandem_issued)}

    haystacks = [Haystack(f"{name}.log", text.encode()) for name, text in pipeline.logs()]
    topics = await topics_with_prefix(pipeline.bootstrap, pipeline.prefix)
    for topic in topics:
        for record in await read_topic(pipeline.bootstrap, topic):
            where = f"{topic}[{record.partition}]@{record.offset}"
            parts = [record.key or b"", record.value or b""]
            parts += [name.encode() + b"=" + (value or b"") for name, value in record.headers]
            haystacks.append(Haystack(where, b"\n".join(parts)))
    haystacks += [output for _, output in runs.values()]

    # The scan covered what it claims: every kind of topic, with data in it, and the error paths.
    wanted = [names.raw(v) for v in ("dexcomshare", "librelinkup", "tandem")]
    wanted += [names.dlq, names.cursors]
    assert set(wanted) <= set(topics)
    assert any(topic.endswith("-changelog") for topic in topics), topics
    assert {names.sink_acked, names.sink_progress} <= set(topics)
    dead_letters = [h for h in haystacks if h.where.startswith(names.dlq + "[")]
    assert len(dead_letters) >= 3, "the malformed readings did not reach the DLQ"

    assert leaks(secrets, haystacks) == []
