"""Supervision: link-time grants, back-off, and an orderly stop."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from harvester.node.events import LogEvent, ReadingsEvent, StateEvent
from tests.conftest import BME680_PLUGIN, make_node, running

pytestmark = pytest.mark.wasm


I2C_77 = {"i2c": [{"bus": 1, "addresses": [0x77]}]}


def plugin(component: str, **extra):
    """Plugins of the bme680-plugin world import i2c, so they need an i2c grant to link."""
    return {"name": "p", "component": component, "poll_interval_s": 0.05, "grants": I2C_77, **extra}


async def test_an_ungranted_interface_is_not_linked(plugin_dir: Path) -> None:
    config = make_node(plugin_dir, [plugin("wants-system-info")])
    async with running(config) as node:
        event = await node.wait_for(
            lambda e: isinstance(e, StateEvent) and e.state == "quarantined"
        )
    assert "imports harvester:plugin/system-info@1.0.0" in event.reason
    assert "grants in the node config do not cover" in event.reason
    assert node.supervisor.runners["p"].instances_started == 0


async def test_a_granted_interface_is_linked(plugin_dir: Path) -> None:
    config = make_node(plugin_dir, [plugin("wants-system-info", grants={"system_info": True})])
    async with running(config) as node:
        event = await node.wait_for(lambda e: isinstance(e, ReadingsEvent) and e.plugin == "p")
    values = {r.metric: r.value for r in event.readings}
    assert 40 < values["cpu_temp"] < 60  # the sim's 48 °C with a little noise
    assert values["uptime"] >= 0


async def test_back_off_doubles_between_restarts(plugin_dir: Path) -> None:
    restart = {"backoff_initial_s": 0.01, "backoff_max_s": 0.04, "max_faults": 5}
    config = make_node(plugin_dir, [plugin("raises")], restart=restart)
    async with running(config) as node:
        await node.wait_for(lambda e: isinstance(e, StateEvent) and e.state == "quarantined")
    pauses = [
        float(m.group(1))
        for e in node.logs("p")
        if (m := re.search(r"restarting in ([\d.]+) s", e.message))
    ]
    assert pauses == [0.01, 0.02, 0.04, 0.04]  # doubling, capped at backoff_max_s
    assert node.supervisor.runners["p"].instances_started == 5


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
    assert lines == ["precompiling bme680.wasm (first start of this build)"]
    assert list(tmp_path.glob("*.cwasm"))
