"""The wire contract: payloads round-trip, bad ones are refused with a reason, the
published JSON Schema is the models' own."""

from __future__ import annotations

import json
import time

import pytest

from harvester.mesh import payloads as p
from harvester.mesh import topics
from tests.conftest import ROOT

NOW = time.time()


def readings_batch(seqs: range) -> p.ReadingsBatch:
    return p.ReadingsBatch(
        node="pi4",
        items=tuple(
            p.ReadingsItem(
                seq=seq,
                plugin="bme680",
                at=NOW,
                readings=(p.ReadingItem(metric="temperature", value=21.5, unit="°C"),),
            )
            for seq in seqs
        ),
    )


def test_a_batch_round_trips() -> None:
    batch = readings_batch(range(1, 4))
    assert p.decode(p.ReadingsBatch, p.encode(batch)) == batch


@pytest.mark.parametrize(
    "raw,reason",
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"v": 2, "node": "pi4"}', "wrong version 2"),
        (b'{"node": "pi4"}', "wrong version None"),
        (b'{"v": 1, "node": "PI4", "state": "online", "role": "spoke", "at": 1.8e9}', "node"),
        (b'{"v": 1, "node": "pi4", "state": "up", "role": "spoke", "at": 1.8e9}', "state"),
        (b'{"v": 1, "node": "pi4", "state": "online", "role": "spoke", "at": 0}', "at"),
        (
            b'{"v": 1, "node": "pi4", "state": "online", "role": "spoke", "at": 1.8e9, "x": 1}',
            "x: Extra inputs",
        ),
    ],
)
def test_a_bad_status_is_refused_naming_why(raw: bytes, reason: str) -> None:
    with pytest.raises(p.PayloadError, match=reason):
        p.decode(p.Status, raw)


def test_an_oversized_payload_is_refused_unread() -> None:
    with pytest.raises(p.PayloadError, match="oversized: 1048577 bytes"):
        p.decode(p.Status, b" " * (p.MAX_PAYLOAD_BYTES + 1))


def test_a_reading_that_is_not_finite_is_refused() -> None:
    raw = json.loads(p.encode(readings_batch(range(1, 2))))
    raw["items"][0]["readings"][0]["value"] = float("nan")
    with pytest.raises(p.PayloadError, match="finite"):
        p.decode(p.ReadingsBatch, json.dumps(raw).encode())


def test_command_ids_and_names_are_checked() -> None:
    good = {"v": 1, "id": "a" * 32, "command": "buzzer.beep", "sent_at": NOW, "expires_at": NOW}
    assert p.decode(p.CommandRequest, json.dumps(good).encode()).command == "buzzer.beep"
    for key, bad in (("id", "not-hex"), ("command", "rm -rf"), ("args", {"Bad Key": 1})):
        with pytest.raises(p.PayloadError, match=key):
            p.decode(p.CommandRequest, json.dumps({**good, key: bad}).encode())


def test_topics_parse_back() -> None:
    assert topics.parse(topics.state("pi4", "dht22")) == topics.Topic("pi4", "state", "dht22")
    assert topics.parse(topics.cmd("pi4", "buzzer.beep")) == topics.Topic(
        "pi4", "cmd", "buzzer.beep"
    )
    assert topics.parse(topics.readings("pi4")) == topics.Topic("pi4", "readings")
    for bad in ("harvester/pi4", "other/pi4/status", "harvester/pi4/nope", "harvester/pi4/cmd"):
        assert topics.parse(bad) is None


def test_every_topic_kind_has_a_model() -> None:
    assert set(p.MODELS) | topics.BINARY_KINDS == topics.KINDS


def test_the_published_schema_is_current() -> None:
    published = json.loads((ROOT / "docs" / "mesh-schema.json").read_text(encoding="utf-8"))
    assert published == p.json_schema(), (
        "docs/mesh-schema.json is stale: python -m harvester.mesh.payloads > docs/mesh-schema.json"
    )
