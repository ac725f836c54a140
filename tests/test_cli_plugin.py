"""`harvester plugin new`, `harvester plugin test` and `harvester precompile` as a user
runs them (a real process)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
from pathlib import Path

import pytest

from harvester.node.events import ReadingsEvent
from harvester.runtime.artifacts import ArtifactCache
from tests.build.test_scaffold import SENSOR, USER_CACHE
from tests.conftest import ARTIFACTS, BUILD_CACHE, ROOT, make_node, running
from tests.test_cli import harvester

ENV = {**os.environ, "XDG_CACHE_HOME": str(USER_CACHE)}
TRIAL = ("plugin", "test", "--cache", str(BUILD_CACHE))  # the session's builds, cached


async def finished(*args: str, cwd: Path | None = None, timeout: float = 900):
    proc = await harvester(*args, cwd=cwd, env=ENV)
    async with asyncio.timeout(timeout):
        out, err = await proc.communicate()
    return proc.returncode, out.decode(), err.decode()


def row(table: str, metric: str) -> list[str]:
    """The cells of `metric`'s row in a rich table as printed."""
    line = next(line for line in table.splitlines() if re.match(rf"│ {metric} +│", line))
    return [cell.strip() for cell in line.strip("│").split("│")]


async def test_plugin_new_writes_a_plugin_and_says_what_next(tmp_path: Path) -> None:
    code, _, err = await finished("plugin", "new", "soil", "--world", "dht22-plugin", cwd=tmp_path)
    assert code == 0, err
    folder = tmp_path / "plugins" / "soil"
    assert {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} == {
        "app.py", "plugin.toml", "tests/test_soil.py"
    }  # fmt: skip
    assert "harvester plugin test plugins/soil" in err
    code, _, err = await finished("plugin", "new", "soil", "--world", "dht22-plugin", cwd=tmp_path)
    assert code == 2
    assert "plugins/soil already exists" in " ".join(err.split())


async def test_plugin_new_of_an_unknown_world_names_the_worlds(tmp_path: Path) -> None:
    code, _, err = await finished("plugin", "new", "x", "--world", "sensor", cwd=tmp_path)
    assert code == 2
    err = " ".join(err.split())
    assert "'sensor' is not a world of the contract" in err
    assert "sensor-plugin (sensor)" in err and "dashboard-plugin (http)" in err
    assert not (tmp_path / "plugins").exists()


@pytest.mark.wasm
async def test_plugin_test_prints_the_readings_of_dht22_on_the_sim_bench() -> None:
    code, out, err = await finished(*TRIAL, "dht22", "--polls", "3", cwd=ROOT / "plugins")
    assert code == 0, err
    temperature = row(out, "temperature")
    assert temperature[:3] == ["temperature", "°C", "temperature"]
    # The reference bench's DHT22 (21 °C, 50 %: harvester.build.dev_bench), read 3 times.
    assert len(temperature) == 6 and all(abs(float(v) - 21.0) <= 1.0 for v in temperature[3:])
    assert all(abs(float(v) - 50.0) <= 2.0 for v in row(out, "humidity")[3:])
    assert "ok: dht22 started; 3 polls answered" in err


@pytest.mark.wasm
async def test_plugin_test_replays_a_recording_instead_of_the_sims() -> None:
    recording = ROOT / "plugins" / "bme680" / "recordings" / "sim-23c.jsonl"
    code, out, err = await finished(
        *TRIAL, str(ROOT / "plugins" / "bme680"), "--replay", str(recording), "--polls", "2"
    )
    assert code == 0, err
    assert "(replay backend)" in err
    assert all(abs(float(v) - 23.0) <= 0.5 for v in row(out, "temperature")[3:])


@pytest.mark.wasm
async def test_plugin_test_of_a_faulting_plugin_fails_saying_why() -> None:
    code, _, err = await finished(*TRIAL, str(ROOT / "tests" / "plugins" / "hostile" / "raises"))
    assert code == 1
    err = " ".join(err.split())
    assert "failed: raises faulted: internal-error" in err
    assert "RuntimeError: boom" in err


@pytest.mark.wasm
@pytest.mark.slow
async def test_plugin_test_of_a_plugin_that_does_not_build_shows_the_error(tmp_path: Path) -> None:
    code, _, _ = await finished("plugin", "new", SENSOR[0], "--world", SENSOR[1], cwd=tmp_path)
    assert code == 0
    app = tmp_path / "plugins" / SENSOR[0] / "app.py"
    app.write_text(app.read_text() + "\ndef broken(:\n")
    code, _, err = await finished("plugin", "test", SENSOR[0], cwd=tmp_path)
    assert code == 1
    assert f"plugins/{SENSOR[0]} does not build" in err
    assert "SyntaxError: invalid syntax" in err and "Stack backtrace" not in err


async def test_plugin_test_of_no_plugin_exits_2_naming_where_it_looked(tmp_path: Path) -> None:
    code, _, err = await finished("plugin", "test", "nope", cwd=tmp_path)
    assert code == 2
    assert "no plugin nope: neither nope nor plugins/nope holds a plugin.toml" in err


PRECOMPILED = [
    {"name": "dht22", "poll_interval_s": 0.05, "grants": {"dht22": [4]}},
    {"name": "pi4-monitor", "poll_interval_s": 0.05, "grants": {"system_info": True}},
]


@pytest.mark.wasm
@pytest.mark.slow
async def test_precompile_makes_the_artifacts_a_node_then_loads_without_compiling(
    plugin_dir: Path, tmp_path: Path
) -> None:
    artifacts = tmp_path / "artifacts"
    node = tmp_path / "node.toml"
    node.write_text(
        f'[node]\nname = "pre"\nplugin_dir = "{plugin_dir}"\ncache_dir = "{artifacts}"\n'
        "[sim]\ntime_scale = 0\n[[sim.dht22]]\npin = 4\nfailure_rate = 0.0\n"
        '[[plugins]]\nname = "dht22"\ngrants = { dht22 = [4] }\n'
        '[[plugins]]\nname = "pi4-monitor"\ngrants = { system_info = true }\n'
    )
    code, _, err = await finished("precompile", "--config", str(node), "--jobs", "2")
    assert code == 0, err
    err = " ".join(err.split())
    assert re.search(r"dht22 → \S+\.cwasm \(compiled in \d+\.\d s\)", err)
    assert "2 of 2 artifacts ready: 2 compiled, 0 already there" in err

    sim = {"time_scale": 0, "dht22": [{"pin": 4, "failure_rate": 0.0}]}
    config = make_node(plugin_dir, PRECOMPILED, cache_dir=artifacts, sim=sim)
    async with running(config) as started:
        for name in ("dht22", "pi4-monitor"):
            await started.wait_for(lambda e, n=name: isinstance(e, ReadingsEvent) and e.plugin == n)
    assert started.supervisor.artifacts.compiles == 0
    assert not [e for e in started.logs("dht22") if "precompiling" in e.message]

    # Again, as `plugin precompile` (the alias): nothing to do.
    code, _, err = await finished("plugin", "precompile", "--config", str(node))
    assert code == 0, err
    assert "2 of 2 artifacts ready: 0 compiled, 2 already there" in " ".join(err.split())


@pytest.mark.wasm
async def test_precompile_of_component_files_into_a_cache_folder(
    plugin_dir: Path, tmp_path: Path
) -> None:
    component = tmp_path / "dht22.wasm"
    shutil.copy(plugin_dir / "dht22.wasm", component)
    code, _, err = await finished("precompile", str(component), "--cache-dir", str(tmp_path / "a"))
    assert code == 0, err
    cache = ArtifactCache(tmp_path / "a")
    cache.ensure(component, plugin="dht22")
    assert cache.compiles == 0

    code, _, err = await finished("precompile", str(tmp_path / "missing.wasm"), "--cache-dir", ".")
    assert code == 1
    assert "missing.wasm does not exist" in " ".join(err.split())


async def test_precompile_with_nothing_to_do_says_so() -> None:
    code, _, err = await finished("precompile")
    assert code == 2
    assert "nothing to precompile" in err


@pytest.mark.wasm
@pytest.mark.slow
async def test_run_dev_builds_runs_and_shows_a_build_error_once(tmp_path: Path) -> None:
    code, _, err = await finished("plugin", "new", SENSOR[0], "--world", SENSOR[1], cwd=tmp_path)
    assert code == 0, err
    (tmp_path / "node.toml").write_text(
        f'[node]\nname = "dev"\nplugin_dir = "node-plugins"\ncache_dir = "{ARTIFACTS}"\n'
        f'[sim]\ntime_scale = 0\n[[plugins]]\nname = "{SENSOR[0]}"\npoll_interval_s = 0.2\n'
        "grants = { system_info = true }\n"
    )
    builds = USER_CACHE / "harvester" / "builds"  # where test_scaffold built it
    proc = await harvester(
        "run", "--config", "node.toml", "--dev", "--cache", str(builds), cwd=tmp_path, env=ENV
    )
    assert proc.stdout and proc.stderr

    async def line_with(stream: asyncio.StreamReader, text: str) -> str:
        async with asyncio.timeout(600):
            while text not in (line := (await stream.readline()).decode()):
                assert line, f"harvester exited before saying {text!r}"
        return line

    try:
        await line_with(proc.stderr, f"dev: {SENSOR[0]} built")
        await line_with(proc.stdout, "soc_temperature=")  # the node runs what was built
        await line_with(proc.stderr, "dev: watching")
        app = tmp_path / "plugins" / SENSOR[0] / "app.py"
        source = app.read_text()
        app.write_text(source + "\ndef broken(:\n")
        await line_with(proc.stderr, f"dev: rebuilding {SENSOR[0]}")
        await line_with(proc.stderr, f"{SENSOR[0]} does not build; the running version stays")
        await line_with(proc.stderr, "SyntaxError")
        await line_with(proc.stdout, "soc_temperature=")  # and it keeps running
        # A save that builds reaches the running node: the node's watcher hot-swaps it.
        app.write_text(source + "\nEDITED = True  # a save in the dev loop\n")
        await line_with(proc.stderr, f"dev: {SENSOR[0]} built")
        await line_with(proc.stdout, "swapped to version")
        await line_with(proc.stdout, "soc_temperature=")
    finally:
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            rest = (await proc.stderr.read()).decode()
            await proc.wait()
    assert proc.returncode == 0, rest
    assert "stopped cleanly" in rest
