"""`harvester record` and `harvester replay` as a user runs them (a real process)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS
from tests.test_cli import NODE, harvester

NOISY = NODE.replace("temperature_c = 19.0", "temperature_c = 19.0\nnoise = {{}}")


async def finished(*args: str, timeout: float = 120) -> tuple[int, str, str]:
    proc = await harvester(*args)
    async with asyncio.timeout(timeout):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), " ".join(err.decode().split())


@pytest.mark.wasm
async def test_record_then_replay_gives_the_same_readings(plugin_dir: Path, tmp_path: Path):
    config = tmp_path / "node.toml"
    config.write_text(NOISY.format(plugins=plugin_dir, artifacts=ARTIFACTS))
    recording = tmp_path / "rec" / "bme680.jsonl"
    code, _, err = await finished(
        "record", "--config", str(config), "--plugin", "bme680", "--out", str(recording),
        "--polls", "3",
    )  # fmt: skip
    assert code == 0, err
    assert "in 3 polls with readings" in err
    kept = json.loads(recording.with_suffix(".readings.json").read_text())["polls"]
    assert len(kept) == 3 and kept[0] != kept[1]

    code, out, err = await finished(
        "replay", str(recording), "--config", str(config), "--plugin", "bme680"
    )
    assert code == 0, err
    assert "3 polls replayed; every reading equals the recorded one" in err
    assert repr(kept[2]["pressure"])[:12] in out  # the table shows the values

    code, _, err = await finished(
        "replay", str(recording), "--config", str(config), "--plugin", "bme680", "--polls", "4"
    )
    assert code == 1
    assert (
        f"the plugin asked for something the recording {recording} lacks: replay: no recorded"
        " answer for i2c bus 1 0x77 write 748d read 0"
    ) in err


async def test_replay_of_a_missing_or_foreign_file_exits_2_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text(NODE.format(plugins=tmp_path, artifacts=tmp_path / "artifacts"))
    code, _, err = await finished(
        "replay", str(tmp_path / "absent.jsonl"), "--config", str(config), "--plugin", "bme680"
    )
    assert code == 2
    assert f"cannot run: cannot read recording {tmp_path / 'absent.jsonl'}" in err
    foreign = tmp_path / "data.jsonl"
    foreign.write_text('{"t": 1}\n')
    code, _, err = await finished(
        "replay", str(foreign), "--config", str(config), "--plugin", "bme680"
    )
    assert code == 2
    assert f"{foreign}:1: not a recording" in err
    assert "Traceback" not in err


async def test_record_of_a_plugin_the_config_lacks_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text(NODE.format(plugins=tmp_path, artifacts=tmp_path / "artifacts"))
    code, _, err = await finished(
        "record", "--config", str(config), "--plugin", "oled", "--out", str(tmp_path / "r")
    )
    assert code == 2
    assert f"config error: {config}: no plugin named 'oled' (plugins: bme680)" in err


async def test_a_node_whose_replay_file_is_missing_does_not_start(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    body = NODE.format(plugins=tmp_path, artifacts=tmp_path / "artifacts")
    config.write_text(body + 'replay = "recordings/absent.jsonl"\n')
    code, _, err = await finished("run", "--config", str(config))
    assert code == 2
    assert f"cannot run: cannot read recording {tmp_path / 'recordings' / 'absent.jsonl'}" in err
    assert "Traceback" not in err
