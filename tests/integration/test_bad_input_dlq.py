"""Bad vendor input through the real processor (``nightstream process``) on the real broker:
good documents reach the ns.* topics, every bad record reaches the DLQ with its stage, reason
and original bytes, and the processor goes on."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from nightstream.kafka_offsets import group_lag
from nightstream.schemas.documents import Collection, from_avro
from nightstream.schemas.identity import device_name, entry_identifier, nightscout_identifier
from nightstream.schemas.records import DeadLetter
from nightstream.schemas.serde import make_serde
from nightstream.schemas.topics import TopicNames
from tests.integration.pipeline import Pipeline, wait_until
from tests.integration.topic_records import read_topic
from tests.streams.test_bad_input import (
    CASES,
    DEXCOM,
    LIBRELINKUP,
    STREAM,
    TANDEM,
    VendorCase,
    flaws_of,
    json_text,
    reading_ms,
    with_field,
)

pytestmark = pytest.mark.kafka

GOOD_SLOTS = list(range(0, 12, 2))
LATE_SLOTS = [30, 31]
LINKS = {"dex-1": "dexcomshare", "llu-1": "librelinkup", "tan-1": "tandem"}
SENSOR_ACTIVATION_S = (reading_ms(0) - 3 * 86_400_000) // 1000


@pytest.fixture
def pipeline(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Pipeline]:
    running = Pipeline(kafka_bootstrap, tmp_path)
    yield running
    running.stop_all()


def _mixed_items(case: VendorCase, first_flaw: int) -> tuple[list[bytes], list[bytes]]:
    """Good readings in GOOD_SLOTS with a different bad reading after each; (items, bad)."""
    items: list[bytes] = []
    bad: list[bytes] = []
    flaws = flaws_of(case)
    for n, slot in enumerate(GOOD_SLOTS):
        items.append(json_text(case.good_item(slot)))
        bad.append(flaws[(first_flaw + 7 * n) % len(flaws)].spoil(case, slot + 1))
        items.append(bad[-1])
    return items, bad


def _llu_body_with_bad_sensor(items: list[bytes]) -> tuple[bytes, bytes]:
    """A graph answer with ``items`` as history, one good and one bad sensor; (body, bad)."""
    bad_sensor = with_field({"sn": "0M0001"}, "a", '"last tuesday"')
    body = (
        b'{"status":0,"data":{"connection":{"glucoseMeasurement":null,"sensor":'
        + json_text({"sn": "0M0000", "a": SENSOR_ACTIVATION_S})
        + b'},"activeSensors":[{"sensor":'
        + bad_sensor
        + b'}],"graphData":['
        + b",".join(items)
        + b"]}}"
    )
    return body, bad_sensor


def _expected_entries(vendor: str) -> set[str]:
    device = device_name(vendor, STREAM)
    slots = GOOD_SLOTS + (LATE_SLOTS if vendor == "dexcomshare" else [])
    return {entry_identifier(device, reading_ms(slot), "sgv") for slot in slots}


async def test_good_records_reach_ns_topics_and_bad_ones_the_dlq(pipeline: Pipeline) -> None:
    pipeline.write_config({}, [])
    await pipeline.create_topics()
    names = TopicNames(pipeline.prefix)
    serde = make_serde("raw_payload", subject="raw")

    dexcom_items, dexcom_bad = _mixed_items(DEXCOM, first_flaw=0)
    llu_items, llu_bad = _mixed_items(LIBRELINKUP, first_flaw=3)
    llu_body, bad_sensor = _llu_body_with_bad_sensor(llu_items)
    tandem_items, tandem_bad = _mixed_items(TANDEM, first_flaw=5)
    truncated = DEXCOM.body([20, 21])[:-9]
    not_utf8 = b"\xff\xfe{" + LIBRELINKUP.body([20])
    not_avro = b"this was never an Avro RawPayload"
    sent = [
        ("dexcomshare", "dex-1", DEXCOM.envelope(dexcom_items)),
        ("librelinkup", "llu-1", llu_body),
        ("tandem", "tan-1", TANDEM.envelope(tandem_items)),
        ("dexcomshare", "dex-1", truncated),
        ("librelinkup", "llu-1", not_utf8),
        # After the bad ones: the processor must still be working.
        ("dexcomshare", "dex-1", DEXCOM.body(LATE_SLOTS)),
    ]
    records = [
        (vendor, key, serde.encode(CASES[vendor].raw(body, link_id=key).to_avro()))
        for vendor, key, body in sent
    ]
    records.append(("dexcomshare", "dex-2", not_avro))
    producer = AIOKafkaProducer(bootstrap_servers=pipeline.bootstrap, acks="all")
    await producer.start()
    try:
        for vendor, key, value in records:
            await producer.send_and_wait(names.raw(vendor), value, key=key.encode())
    finally:
        await producer.stop()

    expected = Counter(
        [("transform", "dexcomshare", b"dex-1", bad) for bad in dexcom_bad]
        + [("transform", "librelinkup", b"llu-1", bad) for bad in [*llu_bad, bad_sensor]]
        + [("transform", "tandem", b"tan-1", bad) for bad in tandem_bad]
        + [("transform", "dexcomshare", b"dex-1", truncated)]
        + [("transform", "librelinkup", b"llu-1", not_utf8)]
        + [("decode", "dexcomshare", b"dex-2", not_avro)]
    )
    expected_letters = sum(expected.values())
    pipeline.start("processor", "process")
    raw_topics = [names.raw(vendor) for vendor in CASES]

    async def processed() -> bool:
        lag = await group_lag(pipeline.bootstrap, f"{pipeline.prefix}-processor", raw_topics)
        return lag == 0 and len(await read_topic(pipeline.bootstrap, names.dlq)) >= expected_letters

    await wait_until(processed, within=75, what="the processor to work through every payload")
    assert pipeline.processes["processor"].poll() is None, pipeline.log("processor")

    entries = [
        from_avro(Collection.ENTRIES, make_serde("entry", subject="e").decode(r.value))
        for r in await read_topic(pipeline.bootstrap, names.ns(Collection.ENTRIES))
    ]
    by_link = {
        link: {e.identifier for e in entries if e.stream.startswith(f"nightstream://{vendor}/")}
        for link, vendor in LINKS.items()
    }
    assert by_link == {link: _expected_entries(vendor) for link, vendor in LINKS.items()}
    assert len(entries) == sum(len(identifiers) for identifiers in by_link.values())
    treatments = [
        from_avro(Collection.TREATMENTS, make_serde("treatment", subject="t").decode(r.value))
        for r in await read_topic(pipeline.bootstrap, names.ns(Collection.TREATMENTS))
    ]
    device = device_name("librelinkup", STREAM)
    assert [t.identifier for t in treatments] == [
        nightscout_identifier(device, SENSOR_ACTIVATION_S * 1000, "Sensor Start")
    ]

    dlq_serde = make_serde("dead_letter", subject="d")
    letters = [
        (r.key, DeadLetter.from_avro(dlq_serde.decode(r.value)))
        for r in await read_topic(pipeline.bootstrap, names.dlq)
    ]
    assert len(letters) == expected_letters
    for key, letter in letters:
        assert letter.reason
        assert letter.original_key == key
        assert letter.source_offset is not None
    got = Counter(
        (letter.stage, letter.vendor, key, letter.original_value) for key, letter in letters
    )
    assert got == expected
    for key, letter in letters:
        assert letter.link_id == (key.decode() if letter.stage == "transform" else None)
    assert {letter.source_topic for _, letter in letters} == set(raw_topics)
