"""Hot reload: a new version beside the running one, swapped in once it answers; refused
if it does not; rolled back if it faults soon after; never half-written (sidecars)."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from harvester.node.events import Event, LogEvent, ReadingsEvent, StateEvent
from tests.conftest import BME680_PLUGIN, make_node, running, state_is

pytestmark = pytest.mark.wasm

INTERVAL = 0.2
# `x` has a BME680 of its own at 0x76: the neighbour's (0x77) is never touched by x's
# versions (a soft reset at init would disturb the neighbour's measurement).
I2C_76 = {"i2c": [{"bus": 1, "addresses": [0x76]}]}
TWO_CHIPS = {
    "time_scale": 0,
    "i2c": [
        {"device": "bme680", "bus": 1, "address": 0x77, "temperature_c": 23.0},
        {"device": "bme680", "bus": 1, "address": 0x76, "temperature_c": 19.0},
    ],
}


def put(folder: Path, name: str, data: bytes) -> None:
    """Write `name` as builds and deploys do: a temporary file, renamed into place."""
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, folder / name)


def version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def node_config(plugin_dir: Path, tmp_path: Path, first: str, **extra: Any):
    """Plugin `x` (component x.wasm, holding build `first`) beside a bme680 neighbour, in
    a plugin folder of their own."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    shutil.copyfile(plugin_dir / "bme680.wasm", folder / "bme680.wasm")
    shutil.copyfile(plugin_dir / f"{first}.wasm", folder / "x.wasm")
    plugins = [
        {**BME680_PLUGIN, "poll_interval_s": INTERVAL},
        {
            "name": "x",
            "poll_interval_s": INTERVAL,
            "grants": I2C_76,
            "settings": {"address": 0x76},
        },
    ]
    extra.setdefault("reload", {"watch": False})
    extra.setdefault("sim", TWO_CHIPS)
    config = make_node(folder, plugins, state_dir=tmp_path / "state", **extra)
    return config, folder


def read(plugin_dir: Path, build: str) -> bytes:
    return (plugin_dir / f"{build}.wasm").read_bytes()


def swapped(plugin: str = "x"):
    def matches(event: Event) -> bool:
        return (
            isinstance(event, StateEvent)
            and event.plugin == plugin
            and event.reason.startswith("swapped to version")
        )

    return matches


def poll_times(node, plugin: str) -> list[float]:
    return [t for t, e in node.timed if isinstance(e, ReadingsEvent) and e.plugin == plugin]


def errors(node, plugin: str = "x") -> list[str]:
    return [e.message for e in node.logs(plugin) if e.level == "error"]


async def polls(node, plugin: str, count: int) -> None:
    """Wait until `plugin` has published `count` more readings."""
    target = len(node.readings(plugin)) + count
    await node.wait_for(lambda e: len(node.readings(plugin)) >= target)


async def test_a_changed_plugin_is_swapped_while_its_neighbour_keeps_its_cadence(
    plugin_dir: Path, tmp_path: Path
) -> None:
    config, folder = node_config(plugin_dir, tmp_path, "bme680")
    new = read(plugin_dir, "bme680-adafruit")
    async with running(config) as node:
        await polls(node, "x", 3)
        await polls(node, "bme680", 3)
        runner = node.supervisor.runners["x"]
        first_instance = runner.live
        before = runner.version
        put(folder, "x.wasm", new)
        # A deploy and the watcher both ask for the same write: they take turns.
        outcomes = await asyncio.gather(node.supervisor.reload("x"), node.supervisor.reload("x"))
        assert sorted(o.result for o in outcomes) == ["swapped", "unchanged"]
        done = next(o for o in outcomes if o.result == "swapped")
        assert (done.version, done.previous) == (version(new), before)
        assert runner.version == version(new) and runner.live is not first_instance
        await polls(node, "x", 3)
        await polls(node, "bme680", 3)
        swap = node.events.index(await node.wait_for(swapped()))
    # The new version's readings come after the swap; the old one's before it.
    x_events = [e for e in node.events if isinstance(e, ReadingsEvent) and e.plugin == "x"]
    assert any(node.events.index(e) > swap for e in x_events)
    assert any(node.events.index(e) < swap for e in x_events)
    lines = [e.message for e in node.logs("x") if e.origin == "host"]
    assert any(
        line.startswith(f"swapped to version {version(new)} (was {before}) in") for line in lines
    )
    assert runner.restarts == 0 and runner.swaps == 1
    # No poll missed or doubled, neither the neighbour's nor the swapped plugin's: every
    # gap between two polls is one interval, give or take half of one.
    for plugin in ("bme680", "x"):
        gaps = [b - a for a, b in itertools.pairwise(poll_times(node, plugin))]
        assert all(INTERVAL * 0.5 < g < INTERVAL * 1.5 for g in gaps), (plugin, gaps)


async def test_a_broken_version_leaves_the_old_one_running(
    plugin_dir: Path, tmp_path: Path
) -> None:
    config, folder = node_config(plugin_dir, tmp_path, "bme680")
    async with running(config) as node:
        await polls(node, "x", 2)
        runner = node.supervisor.runners["x"]
        before, live = runner.version, runner.live
        # Not a component at all: it does not load.
        put(folder, "x.wasm", b"\0asm but not really")
        outcome = await node.supervisor.reload("x")
        assert outcome.result == "refused" and "does not load" in outcome.detail
        # A component whose first poll crashes: it starts, but does not answer.
        raises = read(plugin_dir, "raises")
        put(folder, "x.wasm", raises)
        outcome = await node.supervisor.reload("x")
        assert outcome.result == "refused"
        assert outcome.detail.startswith("first poll: internal-error: unexpected exception")
        assert (runner.version, runner.live) == (before, live)
        await polls(node, "x", 2)  # the old version polls on
        # The same content is not tried again, nor said again.
        again = await node.supervisor.reload("x")
        assert again.result == "unchanged" and "was refused before" in again.detail
        said = errors(node)
        assert len(said) == 2
        assert said[1].startswith(f"version {version(raises)} refused: first poll:")
        assert said[1].endswith(f"; version {before} keeps running")
        # A later, different file is tried.
        put(folder, "x.wasm", read(plugin_dir, "bme680-adafruit"))
        assert (await node.supervisor.reload("x")).result == "swapped"
    assert runner.restarts == 0
    # Refused versions left no copies behind.
    kept = {p.name for p in (tmp_path / "state" / "test-node" / "versions" / "x").iterdir()}
    assert f"{hashlib.sha256(raises).hexdigest()}.wasm" not in kept


async def test_a_version_that_faults_after_the_swap_is_rolled_back(
    plugin_dir: Path, tmp_path: Path
) -> None:
    restart = {"backoff_initial_s": 0.05, "backoff_max_s": 0.05, "max_faults": 10}
    reload = {"watch": False, "rollback_faults": 2, "rollback_window_s": 60}
    config, folder = node_config(plugin_dir, tmp_path, "bme680", restart=restart, reload=reload)
    good, flaky = (folder / "x.wasm").read_bytes(), read(plugin_dir, "flaky")
    async with running(config) as node:
        await polls(node, "x", 2)
        runner = node.supervisor.runners["x"]
        # flaky answers its first poll (so it is swapped in), then crashes on every second.
        # It comes with a sidecar, as a deploy may write it.
        put(folder, "x.wasm.sha256", f"{hashlib.sha256(flaky).hexdigest()}  x.wasm\n".encode())
        put(folder, "x.wasm", flaky)
        assert (await node.supervisor.reload("x")).result == "swapped"
        event = await node.wait_for(
            lambda e: isinstance(e, LogEvent) and e.message.startswith("rolled back"),
        )
        assert event.level == "error"
        assert event.message.startswith(
            f"rolled back to {version(good)}: version {version(flaky)} faulted 2 times in"
        )
        assert event.message.endswith("s after the swap")
        await node.wait_for(state_is("running", "x"))
        await polls(node, "x", 2)
        assert runner.version == version(good)
        assert runner.reloads.last is not None and runner.reloads.last.result == "rolled-back"
        # The folder says what runs; the watcher (or anyone) finds nothing to do.
        assert (folder / "x.wasm").read_bytes() == good
        sidecar = (folder / "x.wasm.sha256").read_text()
        assert sidecar == f"{hashlib.sha256(good).hexdigest()}  x.wasm\n"
        assert (await node.supervisor.reload("x")).result == "unchanged"
        # The bad version is not loaded again.
        put(folder, "x.wasm", flaky)
        again = await node.supervisor.reload("x")
        assert again.result == "unchanged" and "rolled back" in again.detail
        assert runner.version == version(good)
    assert runner.state != "quarantined"
    last = [e for e in node.readings("x")][-1]
    assert {r.metric for r in last.readings} >= {"temperature", "pressure"}


async def test_a_file_not_matching_its_sidecar_is_not_loaded(
    plugin_dir: Path, tmp_path: Path
) -> None:
    config, folder = node_config(plugin_dir, tmp_path, "bme680")
    new = read(plugin_dir, "bme680-adafruit")
    digest = hashlib.sha256(new).hexdigest()
    async with running(config) as node:
        await polls(node, "x", 1)
        runner = node.supervisor.runners["x"]
        before = runner.version
        # A half-written file: its sidecar already names the whole one.
        put(folder, "x.wasm.sha256", f"{digest}  x.wasm\n".encode())
        put(folder, "x.wasm", new[: len(new) // 2])
        first = await node.supervisor.reload("x")
        assert first.result == "refused"
        assert "does not match its sidecar x.wasm.sha256" in first.detail
        assert (await node.supervisor.reload("x")).result == "refused"
        assert len(errors(node)) == 1  # said once
        assert runner.version == before
        # Complete now: it loads.
        put(folder, "x.wasm", new)
        assert (await node.supervisor.reload("x")).result == "swapped"
        assert runner.version == digest[:16]
        # A hand-copied file with a stale sidecar is refused, naming the sidecar.
        put(folder, "x.wasm", read(plugin_dir, "bme680"))
        stale = await node.supervisor.reload("x")
        assert stale.result == "refused" and "a stale sidecar" in stale.detail
        # Once the sidecar is fixed (or deleted), the same file loads.
        (folder / "x.wasm.sha256").unlink()
        assert (await node.supervisor.reload("x")).result == "swapped"


async def test_the_watcher_reloads_a_file_renamed_into_the_folder(
    plugin_dir: Path, tmp_path: Path
) -> None:
    config, folder = node_config(
        plugin_dir, tmp_path, "bme680", reload={"watch": True, "settle_ms": 50}
    )
    new = read(plugin_dir, "bme680-adafruit")
    async with running(config) as node:
        await polls(node, "x", 1)
        # A temporary file, written slowly, then renamed: only the rename counts.
        tmp = folder / "x.wasm.part"
        with tmp.open("wb") as f:
            f.write(new[:1000])
            f.flush()
            f.write(new[1000:])
        os.replace(tmp, folder / "x.wasm")
        event = await node.wait_for(swapped())
        assert version(new) in event.reason
        await polls(node, "x", 1)
        assert node.supervisor.runners["x"].version == version(new)
    refused = [e for e in node.events if isinstance(e, StateEvent) and "refused" in e.reason]
    assert refused == []
    assert [e for e in node.events if swapped()(e)] == [event]  # one reload, not two


async def test_the_watcher_stops_with_the_supervisor(plugin_dir: Path, tmp_path: Path) -> None:
    config, _ = node_config(plugin_dir, tmp_path, "bme680", reload={"watch": True})
    async with running(config) as node:
        await polls(node, "x", 1)
        assert "watch-plugins" in {t.name for t in threading.enumerate()}
    assert "watch-plugins" not in {t.name for t in threading.enumerate()}


async def test_a_new_version_reaches_a_plugin_that_could_not_start(
    plugin_dir: Path, tmp_path: Path
) -> None:
    """Quarantined at the start (no component yet), the plugin runs once a file arrives."""
    config, folder = node_config(
        plugin_dir, tmp_path, "bme680", reload={"watch": True, "settle_ms": 50}
    )
    (folder / "x.wasm").unlink()
    async with running(config) as node:
        event = await node.wait_for(state_is("quarantined", "x"))
        assert "does not exist" in event.reason
        put(folder, "x.wasm", read(plugin_dir, "bme680"))
        await node.wait_for(state_is("running", "x"))
        await polls(node, "x", 2)


async def test_a_new_version_reaches_a_plugin_in_back_off(plugin_dir: Path, tmp_path: Path) -> None:
    restart = {"backoff_initial_s": 30, "backoff_max_s": 30, "max_faults": 10}
    config, folder = node_config(plugin_dir, tmp_path, "raises", restart=restart)
    async with running(config) as node:
        await node.wait_for(state_is("backoff", "x"))
        put(folder, "x.wasm", read(plugin_dir, "bme680"))
        outcome = await node.supervisor.reload("x")
        assert outcome.result == "swapped"
        # It runs now, not after the 30 s pause of the version it replaces.
        await node.wait_for(state_is("running", "x"), timeout=10)
        await polls(node, "x", 2)


async def test_a_missing_plugin_folder_is_not_watched_and_the_node_runs(
    plugin_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config, _ = node_config(plugin_dir, tmp_path, "bme680", reload={"watch": True})
    config = config.model_copy(update={"plugin_dir": tmp_path / "nowhere"})
    with caplog.at_level("ERROR", logger="harvester.node"):
        async with running(config) as node:
            await node.wait_for(state_is("quarantined", "x"))
    said = [r.getMessage() for r in caplog.records if "not watching" in r.getMessage()]
    assert len(said) == 1 and str(tmp_path / "nowhere") in said[0]


async def test_an_actuator_is_swapped_once_it_has_started(plugin_dir: Path, tmp_path: Path) -> None:
    """An actuator answers by its start (init, commands): no command is run to test it."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    shutil.copyfile(plugin_dir / "actuator-loop.wasm", folder / "act.wasm")
    plugin = {"name": "act", "grants": {"buzzer": [13], "leds": [{"strip": 0, "pixels": 4}]}}
    sim = {
        "time_scale": 0,
        "leds": [{"strip": 0, "pixels": 8}],
        "buzzer": [{"pin": 13, "kind": "pwm"}],
    }
    config = make_node(
        folder, [plugin], sim=sim, state_dir=tmp_path / "state", reload={"watch": False}
    )
    async with running(config) as node:
        await node.wait_for(state_is("running", "act"))
        runner = node.supervisor.runners["act"]
        assert "spin.forever" in runner.commands
        put(folder, "act.wasm", read(plugin_dir, "pi4-actuator"))
        outcome = await node.supervisor.reload("act")
        assert outcome.result == "swapped"
        assert "spin.forever" not in runner.commands and "led.off" in runner.commands
        assert await node.supervisor.command("act", "led.off", {}) is not None
        played = node.backend.buzzer.played(13)
    assert runner.restarts == 0 and runner.swaps == 1
    assert played == []  # the swap ran none of the old or new version's commands


async def test_a_slow_sensor_is_swapped_without_waiting_for_its_next_poll(
    plugin_dir: Path, tmp_path: Path
) -> None:
    """Polled every 60 s: the new version polls at once, and its cadence starts there."""
    config, folder = node_config(plugin_dir, tmp_path, "bme680")
    slow = [
        p if p.name != "x" else p.model_copy(update={"poll_interval_s": 60}) for p in config.plugins
    ]
    config = config.model_copy(update={"plugins": tuple(slow)})
    async with running(config) as node:
        await polls(node, "x", 1)
        put(folder, "x.wasm", read(plugin_dir, "bme680-adafruit"))
        async with asyncio.timeout(20):  # far less than the interval
            outcome = await node.supervisor.reload("x")
        assert outcome.result == "swapped"
        assert len(node.readings("x")) == 2  # the old version's first poll, the new one's
        await polls(node, "bme680", 3)  # a while later: no further poll of x is due yet
        assert len(node.readings("x")) == 2
