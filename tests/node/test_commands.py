"""Commands to an actuator plugin: checked by the host, run under the plugin's grants and
deadline, and a command that never returns is contained like any other fault."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harvester.hal.sim.backend import SimBackend
from harvester.node.runner import CommandUnavailable
from harvester.runtime.actuator import CommandRejected
from harvester.runtime.errors import PluginReportedError, PluginTimeout
from tests.conftest import BME680_PLUGIN, make_node, running, state_is

PLUGIN = "actuator-loop"


def backend_with(
    config: Any,
) -> tuple[SimBackend, Callable[[], list[Any]], Callable[[], list[int]]]:
    """The sim backend, and what its buzzer on gpio 13 played and strip 0 shows."""
    sim = SimBackend(config.sim)
    return (
        sim,
        lambda: [(t.frequency_hz, t.duration_ms) for t in sim.buzzer.played(13)],
        (lambda: sim.leds.pixels(0)),
    )


def node(plugin_dir: Path, **actuator: Any) -> Any:
    plugin = {
        "name": PLUGIN,
        "limits": {"call_timeout_ms": 300},
        "grants": {"buzzer": [13], "leds": [{"strip": 0, "pixels": 4}]},
        **actuator,
    }
    restart = {"backoff_initial_s": 0.05, "backoff_max_s": 0.05}
    sim = {
        "time_scale": 0,
        "i2c": [{"device": "bme680", "bus": 1, "address": 0x77}],
        "leds": [{"strip": 0, "pixels": 8}],
        "buzzer": [{"pin": 13, "kind": "pwm"}, {"pin": 5, "kind": "active"}],
    }
    return make_node(plugin_dir, [plugin, BME680_PLUGIN], restart=restart, sim=sim)


async def test_a_granted_command_reaches_the_hardware_and_answers_typed(plugin_dir: Path) -> None:
    config = node(plugin_dir)
    backend, played, shown = backend_with(config)
    async with running(config, backend) as n:
        await n.wait_for(state_is("running", PLUGIN))
        runner = n.supervisor.runners[PLUGIN]
        assert sorted(runner.commands) == ["buzzer.beep", "led.fill", "spin.forever"]
        assert await n.supervisor.command(PLUGIN, "buzzer.beep", {"pin": 13, "hz": 880}) == {
            "pin": 13
        }
        assert played() == [(880, 100)]
        # The grant is 4 pixels of an 8-pixel strip: the plugin sees 4 and sets 4.
        answer = await n.supervisor.command(PLUGIN, "led.fill", {"strip": 0, "color": 0x00FF00})
        assert answer == {"pixels": 4}
        assert shown() == [0x00FF00] * 4 + [0] * 4  # the other 4 were not granted


async def test_a_buzzer_the_plugin_was_not_granted_is_not_granted(plugin_dir: Path) -> None:
    config = node(plugin_dir)
    backend, played, shown = backend_with(config)
    async with running(config, backend) as n:
        await n.wait_for(state_is("running", PLUGIN))
        with pytest.raises(PluginReportedError) as refused:
            await n.supervisor.command(PLUGIN, "buzzer.beep", {"pin": 5, "hz": 440})
        assert refused.value.kind == "hal"
        assert "not-granted: buzzer on gpio 5" in refused.value.detail
        with pytest.raises(PluginReportedError, match="not-granted: led strip 1"):
            await n.supervisor.command(PLUGIN, "led.fill", {"strip": 1, "color": 1})
        assert played() == [] and shown() == [0] * 8
        assert backend.buzzer.played(5) == []  # the node has one there; not this plugin's
        assert n.supervisor.runners[PLUGIN].instances_started == 1  # refused, not broken
        assert any("refused: buzzer on gpio 5" in e.message for e in n.logs(PLUGIN))


@pytest.mark.parametrize(
    "command,arguments,message",
    [
        ("buzzer.sing", {}, "unknown command 'buzzer.sing'"),
        ("buzzer.beep", {"pin": 13}, "argument 'hz' is required"),
        ("buzzer.beep", {"pin": 13, "hz": "loud"}, "argument 'hz' must be integer"),
        ("buzzer.beep", {"pin": True, "hz": 1}, "argument 'pin' must be integer"),
        ("buzzer.beep", {"pin": 13, "hz": 1, "volume": 3}, "unknown argument 'volume'"),
    ],
)
async def test_the_host_rejects_a_malformed_command_before_the_plugin_sees_it(
    plugin_dir: Path, command: str, arguments: dict[str, Any], message: str
) -> None:
    config = node(plugin_dir)
    backend, played, _ = backend_with(config)
    async with running(config, backend) as n:
        await n.wait_for(state_is("running", PLUGIN))
        with pytest.raises(CommandRejected, match=message):
            await n.supervisor.command(PLUGIN, command, arguments)
        assert played() == []


async def test_commands_need_an_actuator_that_is_running(plugin_dir: Path) -> None:
    config = node(plugin_dir)
    backend, _, _ = backend_with(config)
    async with running(config, backend) as n:
        await n.wait_for(state_is("running", "bme680"))
        with pytest.raises(CommandUnavailable, match="answers no commands"):
            await n.supervisor.command("bme680", "buzzer.beep", {})
        with pytest.raises(CommandUnavailable, match="no such plugin"):
            await n.supervisor.command("nobody", "buzzer.beep", {})


async def test_a_command_that_never_returns_is_contained(plugin_dir: Path) -> None:
    config = node(plugin_dir)
    backend, played, _ = backend_with(config)
    async with running(config, backend) as n:
        await n.wait_for(state_is("running", PLUGIN))
        polls_before = len(n.readings("bme680"))
        with pytest.raises(PluginTimeout):
            await n.supervisor.command(PLUGIN, "spin.forever", {})
        # The instance is replaced after its back-off, and answers again.
        backoff = await n.wait_for(state_is("backoff", PLUGIN))
        assert "timeout" in backoff.reason  # type: ignore[attr-defined]
        await n.wait_for(lambda e: state_is("running", PLUGIN)(e) and e.seq > backoff.seq)
        assert n.supervisor.runners[PLUGIN].instances_started == 2
        assert await n.supervisor.command(PLUGIN, "buzzer.beep", {"pin": 13, "hz": 440}) == {
            "pin": 13
        }
        assert played() == [(440, 100)]
        # The other plugin went on polling meanwhile.
        await n.wait_for(lambda e: len(n.readings("bme680")) > polls_before + 2)
