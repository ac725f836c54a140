"""Guests blocked where the epoch cannot reach them: in WASI waits and in host calls.

The epoch deadline interrupts only wasm code. These tests check the host's other fences:
WASI waits are refused, our own waits end at the call's deadline, a call stuck in a host
call is abandoned (the plugin is faulted and restarted, its thread left behind), and a
node stops within 2 s whatever its plugins are doing.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harvester.node.events import LogEvent, ReadingsEvent, StateEvent
from tests.conftest import BME680_PLUGIN, make_node, running, state_is

pytestmark = pytest.mark.wasm

RESTART = {"backoff_initial_s": 0.02, "backoff_max_s": 0.1, "max_faults": 3, "fault_window_s": 60}
STOP_BOUND_S = 2.0


class StuckDevice:
    """An I2C device that holds the bus until released, as a wedged sensor can."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.transfers = 0  # the driver starts every transfer with a register write

    def write(self, data: bytes) -> None:
        self.transfers += 1
        self.entered.set()
        self.release.wait()

    def read(self, length: int) -> bytes:
        self.release.wait()
        return bytes(length)


def stuck_plugin(call_timeout_ms: int) -> dict[str, Any]:
    """The real bme680 plugin, pointed at bus 2 where a StuckDevice sits at 0x77."""
    return {
        "name": "stuck",
        "component": "bme680",
        "poll_interval_s": 0.05,
        "limits": {"call_timeout_ms": call_timeout_ms},
        "grants": {"i2c": [{"bus": 2, "addresses": [0x77]}]},
        "settings": {"bus": 2},
    }


def host_lines(node, plugin: str) -> list[str]:
    return [e.message for e in node.logs(plugin) if e.origin == "host"]


async def bme680_polls_on(node, count: int = 5) -> None:
    target = len(node.readings("bme680")) + count
    await node.wait_for(lambda e: len(node.readings("bme680")) >= target)
    assert node.supervisor.runners["bme680"].instances_started == 1


async def test_a_wasi_sleep_is_refused_not_waited_for(plugin_dir: Path) -> None:
    wasi = {"name": "hostile", "component": "wasi-sleep", "poll_interval_s": 0.05,
            "limits": {"call_timeout_ms": 60_000},
            "grants": {"i2c": [{"bus": 1, "addresses": [0x77]}]}}  # fmt: skip
    config = make_node(plugin_dir, [BME680_PLUGIN, wasi], restart=RESTART)
    async with running(config) as node:
        event = await node.wait_for(state_is("quarantined", "hostile"))
        await bme680_polls_on(node)
    # Refused at the call, long before its 60 s deadline could matter.
    assert re.search(r"wasi:clocks/monotonic-clock@0.2.9#subscribe-\w+ is denied", event.reason)
    assert "use clock.sleep-ms" in event.reason


async def test_our_sleep_ends_at_the_calls_deadline(plugin_dir: Path) -> None:
    # Real device time (time_scale 1): the plugin asks for 60 s sleeps in a loop.
    sleeper = {"name": "hostile", "component": "sleep-forever", "poll_interval_s": 0.05,
               "limits": {"call_timeout_ms": 300},
               "grants": {"i2c": [{"bus": 1, "addresses": [0x77]}]}}  # fmt: skip
    config = make_node(plugin_dir, [sleeper], restart=RESTART)
    config = config.model_copy(update={"sim": config.sim.model_copy(update={"time_scale": 1.0})})
    async with running(config) as node:
        await node.wait_for(lambda e: isinstance(e, LogEvent) and "timeout:" in e.message)
    first = next(m for m in host_lines(node, "hostile") if "timeout:" in m)
    # The sleep itself stopped at the deadline and the call trapped: nothing was abandoned.
    assert "call exceeded its deadline (in host call harvester:plugin/clock@1.2.0#sleep-ms)" in (
        first
    )
    assert "abandoned" not in first


async def test_a_call_stuck_in_a_host_call_is_abandoned(plugin_dir: Path) -> None:
    device = StuckDevice()
    config = make_node(plugin_dir, [BME680_PLUGIN, stuck_plugin(300)], restart=RESTART)
    try:
        async with running(config) as node:
            node.backend.bus(2).attach(0x77, device)
            event = await node.wait_for(state_is("quarantined", "stuck"))
            await bme680_polls_on(node)
            runner = node.supervisor.runners["stuck"]
    finally:
        device.release.set()
    blocked = "blocked in host call harvester:plugin/i2c@1.2.0#transfer past its deadline"
    assert f"last: timeout: {blocked}; its thread was abandoned" in event.reason
    # Three instances, each abandoned in its first transfer: the first inside the device,
    # the others waiting for the bus it holds (a real bus carries one transaction at a time).
    faults = [m for m in host_lines(node, "stuck") if m.startswith("timeout:")]
    assert len(faults) == 2 and all(blocked in m for m in faults)  # then the quarantine line
    assert device.transfers == 1
    assert runner.instances_started == 0  # none finished init


async def test_an_abandoned_instance_never_touches_hardware_again(plugin_dir: Path) -> None:
    device = StuckDevice()
    restart = {**RESTART, "max_faults": 1}  # one instance, then quarantine
    config = make_node(plugin_dir, [stuck_plugin(300)], restart=restart)
    async with running(config) as node:
        node.backend.bus(2).attach(0x77, device)
        await node.wait_for(state_is("quarantined"))
        # Let the stuck transfer return: the guest goes on with its next transfer...
        device.release.set()
        threads = [t for t in threading.enumerate() if t.name == "plugin-stuck"]
        await asyncio.to_thread(lambda: [t.join() for t in threads])
    # ...which the host refused (a trap), so the device saw only the first one.
    assert device.transfers == 1


@pytest.mark.parametrize(
    "blocker",
    [
        pytest.param(("stuck", 60_000), id="stuck-in-a-host-call"),
        pytest.param(("wasi-sleep", 60_000), id="sleeping-in-wasi"),
        pytest.param(("loop-forever", 60_000), id="looping-in-wasm"),
        pytest.param(("sleep-forever", 60_000), id="in-our-sleep"),
    ],
)
async def test_a_node_stops_within_two_seconds(plugin_dir: Path, blocker) -> None:
    component, timeout_ms = blocker
    device = StuckDevice()
    if component == "stuck":
        hostile = stuck_plugin(timeout_ms)
    else:
        hostile = {"name": "stuck", "component": component, "poll_interval_s": 0.05,
                   "limits": {"call_timeout_ms": timeout_ms},
                   "grants": {"i2c": [{"bus": 1, "addresses": [0x77]}]}}  # fmt: skip
    config = make_node(plugin_dir, [BME680_PLUGIN, hostile], restart=RESTART)
    config = config.model_copy(update={"sim": config.sim.model_copy(update={"time_scale": 1.0})})
    try:
        async with running(config) as node:
            node.backend.bus(2).attach(0x77, device)
            await node.wait_for(lambda e: isinstance(e, ReadingsEvent) and e.plugin == "bme680")
            if component == "stuck":
                await asyncio.to_thread(device.entered.wait)
            else:  # it is in its first poll (the loopers) or already refused (wasi-sleep)
                await node.wait_for(
                    lambda e: isinstance(e, StateEvent) and e.plugin == "stuck"
                    and e.state in ("running", "backoff", "quarantined")
                )  # fmt: skip
            started = time.monotonic()
        took = time.monotonic() - started
    finally:
        device.release.set()
    assert took <= STOP_BOUND_S, f"stopping took {took:.2f} s"
    states = {name: r.state for name, r in node.supervisor.runners.items()}
    assert states["bme680"] == "stopped"
    if component == "stuck":
        assert node.supervisor.abandoned_at_stop == 1
