"""Failures on the host's side of a call belong to the plugin that made the call.

A backend that raises, or returns a value the WIT type cannot carry, must become an
error result or a fault of that plugin, with a log line naming the function, never a
silent death of its runner and never an exception surfacing in another plugin's thread
(wasmtime-py's process-wide exception slot stays empty).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from wasmtime.component import _enter

from tests.conftest import BME680_PLUGIN, make_node, running, state_is

pytestmark = pytest.mark.wasm

RESTART = {"backoff_initial_s": 0.02, "backoff_max_s": 0.1, "max_faults": 3, "fault_window_s": 60}


class Misbehaving:
    """A device on bus 2 whose answers break the host's side of `i2c.transfer`."""

    def __init__(self, read: Any) -> None:
        self._read = read

    def write(self, data: bytes) -> None:
        pass

    def read(self, length: int) -> Any:
        return self._read(length)


def plugin_on_bus_2() -> dict[str, Any]:
    return {"name": "victim", "component": "bme680", "poll_interval_s": 0.05,
            "grants": {"i2c": [{"bus": 2, "addresses": [0x77]}]},
            "settings": {"bus": 2}}  # fmt: skip


async def run_with(plugin_dir: Path, device: Misbehaving):
    config = make_node(plugin_dir, [BME680_PLUGIN, plugin_on_bus_2()], restart=RESTART)
    async with running(config) as node:
        node.backend.bus(2).attach(0x77, device)
        event = await node.wait_for(state_is("quarantined", "victim"))
        target = len(node.readings("bme680")) + 5
        await node.wait_for(lambda e: len(node.readings("bme680")) >= target)
    assert node.supervisor.runners["bme680"].instances_started == 1
    assert _enter.LAST_EXCEPTION is None
    return node, event


async def test_a_value_the_wit_type_cannot_carry_is_a_fault_naming_the_function(
    plugin_dir: Path,
) -> None:
    _, event = await run_with(plugin_dir, Misbehaving(lambda n: "not bytes"))
    assert "host function harvester:plugin/i2c@1.2.0#transfer failed" in event.reason
    assert "ConversionError: returned str 'not bytes'" in event.reason


async def test_a_backend_exception_is_an_error_result_and_a_log_line(plugin_dir: Path) -> None:
    def broken(length: int) -> bytes:
        raise ValueError("driver bug")

    node, event = await run_with(plugin_dir, Misbehaving(broken))
    lines = [e.message for e in node.logs("victim") if e.origin == "host"]
    assert any(
        "host function harvester:plugin/i2c@1.2.0#transfer failed: ValueError('driver bug')" in m
        for m in lines
    )
    # The guest got `other` and its driver gave up in init: a reported error, faulted.
    assert "init failed: hal: other: host error: ValueError" in event.reason


async def test_bytes_like_answers_are_accepted(plugin_dir: Path) -> None:
    """A bytearray is a legitimate answer from a backend (it is what smbus2 hands back)."""
    from harvester.hal.sim.bme680 import Bme680Sim

    config = make_node(plugin_dir, [plugin_on_bus_2()], restart=RESTART)
    async with running(config) as node:
        chip = Bme680Sim(node.backend.clock, temperature_c=23.0)

        class AsBytearray:
            def write(self, data: bytes) -> None:
                chip.write(data)

            def read(self, length: int) -> bytearray:
                return bytearray(chip.read(length))

        node.backend.bus(2).attach(0x77, AsBytearray())
        await node.wait_for(lambda e: len(node.readings("victim")) >= 2)
    temperature = next(
        r.value for r in node.readings("victim")[-1].readings if r.metric == "temperature"
    )
    assert abs(temperature - 23.0) <= 0.5
