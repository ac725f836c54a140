"""Supervision: link-time grants, back-off, and an orderly stop."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest

from harvester.node.events import LogEvent, ReadingsEvent, StateEvent
from harvester.runtime.artifacts import MISSING
from tests.conftest import BME680_PLUGIN, ManualClock, make_node, running, state_is

pytestmark = pytest.mark.wasm


I2C_77 = {"i2c": [{"bus": 1, "addresses": [0x77]}]}


def plugin(component: str, **extra):
    """Plugins of the bme680-plugin world import i2c, so they need an i2c grant to link."""
    return {"name": "p", "component": component, "poll_interval_s": 0.05, "grants": I2C_77, **extra}


async def test_an_ungranted_interface_is_not_linked(plugin_dir: Path) -> None:
    config = make_node(plugin_dir, [plugin("wants-system-info")])
    async with running(config) as node:
        event = await node.wait_for(state_is("quarantined"))
    assert "imports harvester:plugin/system-info@1.2.0" in event.reason
    assert "grants in the node config do not cover" in event.reason
    assert node.supervisor.runners["p"].instances_started == 0


async def test_a_granted_interface_is_linked(plugin_dir: Path) -> None:
    config = make_node(plugin_dir, [plugin("wants-system-info", grants={"system_info": True})])
    async with running(config) as node:
        event = await node.wait_for(lambda e: isinstance(e, ReadingsEvent) and e.plugin == "p")
    values = {r.metric: r.value for r in event.readings}
    assert 40 < values["cpu_temp"] < 60  # the sim's 48 °C with a little noise
    assert values["uptime"] >= 0


def starts(node, plugin: str = "p") -> list[float]:
    """The manual clock's time at each start of `plugin`."""
    return [t for t, e in node.timed if isinstance(e, StateEvent) and e.plugin == plugin
            and e.state == "starting"]  # fmt: skip


async def test_back_off_doubles_between_restarts(plugin_dir: Path) -> None:
    restart = {"backoff_initial_s": 1, "backoff_max_s": 4, "max_faults": 5}
    config = make_node(plugin_dir, [plugin("raises")], restart=restart)
    async with running(config, clock=ManualClock()) as node:
        await node.wait_for(state_is("quarantined"))
    # Each instance faults on its first poll, at once on this clock: the gaps between starts
    # are the pauses, doubling and capped at backoff_max_s.
    times = starts(node)
    assert [b - a for a, b in itertools.pairwise(times)] == [1, 2, 4, 4]
    assert node.supervisor.runners["p"].instances_started == 5


async def test_back_off_starts_over_after_a_good_poll(plugin_dir: Path) -> None:
    restart = {"backoff_initial_s": 1, "backoff_max_s": 64, "max_faults": 5}
    config = make_node(plugin_dir, [plugin("flaky", poll_interval_s=10)], restart=restart)
    async with running(config, clock=ManualClock()) as node:
        await node.wait_for(state_is("quarantined"))
    # Every instance polls once, waits its interval (10 s), then faults: always after a
    # good poll, so every pause is the initial one, never doubled.
    assert [b - a for a, b in itertools.pairwise(starts(node))] == [11, 11, 11, 11]
    assert len(node.readings("p")) == 5


async def test_faults_older_than_the_window_do_not_count(plugin_dir: Path) -> None:
    # Pauses of 10 s and more, a window of 5 s: no two faults ever share the window.
    restart = {"backoff_initial_s": 10, "backoff_max_s": 10, "max_faults": 2, "fault_window_s": 5}
    config = make_node(plugin_dir, [plugin("raises")], restart=restart)
    async with running(config, clock=ManualClock()) as node:
        runner = node.supervisor.runners["p"]
        await node.wait_for(lambda e: runner.instances_started >= 6)
        assert runner.state != "quarantined"
        assert len(runner.faults) == 1  # only the latest is still in the window


async def test_a_plugin_refusing_its_settings_is_restarted_then_quarantined(
    plugin_dir: Path,
) -> None:
    restart = {"backoff_initial_s": 1, "backoff_max_s": 1, "max_faults": 3}
    # Granted 0x76, where no device answers: init fails on the bus.
    bad = {**BME680_PLUGIN, "settings": {"address": "0x76"},
           "grants": {"i2c": [{"bus": 1, "addresses": [0x76]}]}}  # fmt: skip
    config = make_node(plugin_dir, [bad], restart=restart)
    async with running(config, clock=ManualClock()) as node:
        event = await node.wait_for(state_is("quarantined"))
    assert event.reason.endswith("last: fault: init failed: hal: no-acknowledge: address")
    assert node.supervisor.runners["bme680"].instances_started == 0  # none got past init


async def test_stop_is_orderly_even_with_a_call_in_progress(plugin_dir: Path) -> None:
    hang = plugin("loop-forever", limits={"call_timeout_ms": 300})
    config = make_node(plugin_dir, [BME680_PLUGIN, hang])
    threads_before = set(threading.enumerate())
    async with running(config) as node:
        await node.wait_for(
            lambda e: isinstance(e, StateEvent) and e.plugin == "p" and e.state == "running"
        )
    states = {name: r.state for name, r in node.supervisor.runners.items()}
    assert states == {"bme680": "stopped", "p": "stopped"}
    # The plugins' workers and the supervisor's epoch ticker are gone (asyncio_N threads
    # belong to the event loop's shared default executor, not to the supervisor).
    left = {t.name for t in set(threading.enumerate()) - threads_before}
    assert {name for name in left if not name.startswith("asyncio_")} == set()


async def test_plugin_log_lines_reach_the_bus(plugin_dir: Path) -> None:
    config = make_node(plugin_dir, [BME680_PLUGIN])
    async with running(config) as node:
        event = await node.wait_for(lambda e: isinstance(e, LogEvent) and e.origin == "plugin")
    assert event.plugin == "bme680"
    assert event.message == "BME680 ready on bus 1 at 0x77"


async def test_a_first_start_says_it_is_precompiling(plugin_dir: Path, tmp_path: Path) -> None:
    config = make_node(plugin_dir, [BME680_PLUGIN], cache_dir=tmp_path)  # no artifacts yet
    async with running(config) as node:
        await node.wait_for(lambda e: isinstance(e, ReadingsEvent), timeout=120)
    lines = [e.message for e in node.logs("bme680") if e.origin == "host"]
    assert lines == [f"precompiling bme680.wasm: {MISSING}"]
    assert list(tmp_path.glob("*.cwasm"))


async def test_four_instances_of_one_component_compile_it_once(
    plugin_dir: Path, tmp_path: Path
) -> None:
    """On a cold cache, plugins sharing a component wait for one compile (~420 MB each on a
    Pi: four at once would be an out-of-memory kill)."""
    names = ["a", "b", "c", "d"]
    plugins = [{**BME680_PLUGIN, "name": n, "component": "bme680"} for n in names]
    config = make_node(plugin_dir, plugins, cache_dir=tmp_path)  # no artifacts yet
    async with running(config) as node:
        for n in names:
            await node.wait_for(
                lambda e, n=n: isinstance(e, ReadingsEvent) and e.plugin == n, timeout=120
            )
    assert node.supervisor.artifacts.compiles == 1
    said = [e for e in node.events if isinstance(e, LogEvent) and "precompiling" in e.message]
    assert len(said) == 1
    assert len(list(tmp_path.glob("*.cwasm"))) == 1


async def test_a_component_exporting_nothing_drivable_is_refused(plugin_dir: Path) -> None:
    config = make_node(plugin_dir, [{"name": "p", "component": "no-exports"}])
    async with running(config) as node:
        event = await node.wait_for(state_is("quarantined"))
    assert event.reason == (
        "exports none of harvester:plugin/actuator@1.2.0, harvester:plugin/http-handler@1.2.0,"
        " harvester:plugin/sensor@1.2.0:"
        " nothing the host can drive"
    )


async def test_a_second_instance_runs_beside_the_live_one(plugin_dir: Path) -> None:
    """What hot reload builds on: a new instance started while the old one polls on."""
    config = make_node(plugin_dir, [BME680_PLUGIN])
    async with running(config) as node:
        await node.wait_for(lambda e: isinstance(e, ReadingsEvent))
        runner = node.supervisor.runners["bme680"]
        first = runner.live
        second, metrics = await runner.start(await runner.load())
        try:
            polls_before = len(node.readings("bme680"))
            readings = await second.thread.run(
                second.sensor.poll, deadline_s=2, grace_s=0.1,
                blocked_in=lambda: None, on_abandon=lambda: None,
            )  # fmt: skip
            await node.wait_for(lambda e: len(node.readings("bme680")) >= polls_before + 2)
        finally:
            second.thread.close()
        assert runner.live is first  # the live one was not touched
    assert second.instance is not first.instance
    assert [m.name for m in metrics] == ["temperature", "pressure", "humidity", "gas_resistance"]
    assert {r.metric for r in readings} == {m.name for m in metrics}
