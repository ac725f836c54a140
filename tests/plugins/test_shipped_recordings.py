"""Every recording shipped in a plugin's recordings/ folder replays as the plugin's device:
the plugin, sandboxed, gets every answer it asks for, gives exactly the readings kept
beside the recording, and is told (a hal error) once it asks past the recording's end."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from harvester.config import load_node_config
from harvester.node.events import LogEvent, ReadingsEvent
from tests.conftest import ROOT, make_node, running

SHIPPED = sorted((ROOT / "plugins").glob("*/recordings/*.jsonl"))
MISS = "poll failed: hal: other: replay: no recorded answer"


def i2c_worlds() -> set[str]:
    """Worlds in wit/ that import i2c (directly; those that include them follow below)."""
    text = (ROOT / "wit" / "worlds.wit").read_text()
    worlds = dict(re.findall(r"world ([a-z0-9-]+) \{(.*?)\}", text, re.S))
    found = {name for name, body in worlds.items() if "import i2c;" in body}
    for name, body in worlds.items():
        found |= {name for inc in re.findall(r"include ([a-z0-9-]+);", body) if inc in found}
    return found


def test_every_i2c_plugin_ships_a_recording() -> None:
    worlds = i2c_worlds()
    i2c_plugins = {
        path.parent.name
        for path in (ROOT / "plugins").glob("*/plugin.toml")
        if tomllib.loads(path.read_text())["world"] in worlds
    }
    assert i2c_plugins >= {"bme680", "bme680-adafruit", "oled"}
    assert i2c_plugins == {r.parent.parent.name for r in SHIPPED}


@pytest.mark.parametrize("recording", SHIPPED, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
async def test_a_shipped_recording_replays_exactly(plugin_dir: Path, recording: Path) -> None:
    header = json.loads(recording.read_text().splitlines()[0])
    made_by = load_node_config(recording.with_suffix(".toml"))
    (plugin,) = [p for p in made_by.plugins if p.name == header["plugin"]]
    kept = json.loads(recording.with_suffix(".readings.json").read_text())["polls"]
    # The recorded poll interval: Adafruit's BME680 driver reuses a measurement younger
    # than 0.1 s (wall clock), so faster polls would ask the device less than it did.
    config = make_node(
        plugin_dir,
        [plugin.model_dump(exclude={"record", "replay"}) | {"replay": recording}],
    )
    async with running(config) as node:
        missed = await node.wait_for(
            lambda e: isinstance(e, LogEvent) and e.message.startswith(MISS)
        )
        runner = node.supervisor.runners[plugin.name]
        polls_before_the_miss = runner.polls
    got = [
        {r.metric: r.value for r in e.readings}
        for e in node.events
        if isinstance(e, ReadingsEvent) and e.plugin == plugin.name
    ]
    assert got[: len(kept)] == kept
    assert len(got) == len(kept)  # the poll past the end has none
    assert runner.instances_started == 1
    assert polls_before_the_miss >= max(len(kept), 1)
    assert isinstance(missed, LogEvent)
