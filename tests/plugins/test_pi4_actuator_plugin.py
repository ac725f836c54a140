"""pi4-actuator: the buzzer and the LED strip as commands, sandboxed, against the
simulated buzzer (which records its tones) and WS2812B strip (which holds its pixels)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harvester.config import SimConfig
from harvester.hal.sim.backend import SimBackend
from harvester.runtime.actuator import ActuatorExport, CommandRejected, check_arguments
from harvester.runtime.errors import PluginReportedError
from harvester.runtime.host_api import record
from tests.conftest import make_node, running, state_is

pytestmark = pytest.mark.wasm

GRANTS = {"leds": [{"strip": 0, "pixels": 8}], "buzzer": [13]}


class Actuator:
    """The plugin's actuator export, with the host's argument check in front (as the
    node's command path has it); `raw` skips that check, to see the guest's own."""

    def __init__(self, export: ActuatorExport) -> None:
        self.export = export
        self.specs = {c.name: c for c in export.commands()}

    def invoke(self, command: str, **arguments: Any) -> dict[str, Any]:
        spec = self.specs[command]
        return self.export.invoke(command, check_arguments("pi4-actuator", spec, arguments))

    def raw(self, command: str, **arguments: Any) -> dict[str, Any]:
        args = [record(name=k, value=v) for k, v in arguments.items()]
        return self.export.invoke(command, args)


def sim() -> SimBackend:
    return SimBackend(
        SimConfig(
            time_scale=0,
            leds=[{"strip": 0, "pixels": 8, "pin": 18}],
            buzzer=[{"pin": 13, "kind": "pwm"}],
        )
    )


@pytest.fixture
def actuator(instantiate):
    def make(backend: SimBackend, grants: dict[str, Any] = GRANTS) -> Actuator:
        export = instantiate("pi4-actuator", backend, grants, export=ActuatorExport)
        export.init({"buzzer_pin": 13, "strip": 0})
        return Actuator(export)

    return make


def test_lists_its_commands_with_typed_parameters(actuator) -> None:
    specs = actuator(sim()).specs
    assert sorted(specs) == ["buzzer.beep", "buzzer.off", "led.fill", "led.off", "led.set"]
    beep = [(p.name, p.kind, p.required) for p in specs["buzzer.beep"].parameters]
    assert beep[:3] == [
        ("frequency_hz", "integer", True),
        ("duration_ms", "integer", True),
        ("count", "integer", False),
    ]
    assert [(p.name, p.kind) for p in specs["led.set"].parameters] == [
        ("index", "integer"), ("all", "flag"), ("color", "text"), ("rgb", "integer"),
    ]  # fmt: skip


def test_a_beep_plays_the_tones_asked_for(actuator) -> None:
    backend = sim()
    plugin = actuator(backend)
    result = plugin.invoke("buzzer.beep", frequency_hz=440, duration_ms=100, count=3)
    assert result == {"beeps": 3, "frequency_hz": 440, "duration_ms": 100}
    tones = backend.buzzer.played(13)
    assert [(t.frequency_hz, t.requested_ms) for t in tones] == [(440, 100)] * 3
    # Each beep sounded its whole length: the plugin waited out beep and gap between them.
    assert [t.duration_ms for t in tones[:2]] == [100, 100]
    # 100 ms + the 100 ms gap on the virtual clock, plus the real time the calls took
    assert 200 <= tones[1].started_at_ms - tones[0].started_at_ms <= 250


def test_buzzer_off_silences_it(actuator) -> None:
    backend = sim()
    plugin = actuator(backend)
    plugin.invoke("buzzer.beep", frequency_hz=2000, duration_ms=5000)
    assert plugin.invoke("buzzer.off") == {"pin": 13}
    [tone] = backend.buzzer.played(13)
    assert tone.duration_ms < 5000


def test_led_commands_set_the_strips_colours(actuator) -> None:
    backend = sim()
    plugin = actuator(backend)
    assert plugin.invoke("led.fill", color="#102030") == {
        "pixels_set": 8, "color": "#102030", "strip": 0,
    }  # fmt: skip
    assert backend.leds.pixels(0) == [0x102030] * 8
    assert plugin.invoke("led.set", index=2, color="#ff8800")["pixels_set"] == 1
    assert plugin.invoke("led.set", index=5, rgb=0x00FF00)["color"] == "#00ff00"
    assert (
        backend.leds.pixels(0)
        == [0x102030] * 2 + [0xFF8800] + [0x102030] * 2 + [0x00FF00] + [0x102030] * 2
    )
    plugin.invoke("led.set", all=True, color="#0000FF")
    assert backend.leds.pixels(0) == [0x0000FF] * 8
    assert plugin.invoke("led.off")["pixels_set"] == 8
    assert backend.leds.pixels(0) == [0] * 8


@pytest.mark.parametrize(
    ("command", "arguments", "case", "names"),
    [
        ("led.set", {"index": 8, "color": "#ffffff"}, "bad-argument", "index = 8"),
        ("led.set", {"index": 1, "color": "red"}, "bad-argument", "'red'"),
        ("led.set", {"index": 1}, "bad-argument", "color, rgb"),
        ("led.fill", {"rgb": 0x1000000}, "bad-argument", "rgb"),
        ("buzzer.beep", {"frequency_hz": 5, "duration_ms": 10}, "bad-argument", "frequency_hz"),
        ("buzzer.beep", {"frequency_hz": 440, "duration_ms": 900, "count": 3},
         "bad-argument", "more than 1500"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused_by_the_plugin_and_touch_nothing(
    actuator, command: str, arguments: dict[str, Any], case: str, names: str
) -> None:
    backend = sim()
    plugin = actuator(backend)
    with pytest.raises(PluginReportedError) as err:
        plugin.invoke(command, **arguments)
    assert err.value.kind == case and names in str(err.value)
    assert backend.buzzer.played(13) == []
    assert backend.leds.pixels(0) == [0] * 8


@pytest.mark.parametrize(
    ("command", "arguments", "case", "names"),
    [
        ("buzzer.beep", {"duration_ms": 10}, "bad-argument", "frequency_hz: missing"),
        ("buzzer.beep", {"frequency_hz": "440", "duration_ms": 10}, "bad-argument", "integer"),
        ("led.off", {"volume": 3}, "bad-argument", "volume: no such argument"),
        ("led.blink", {}, "unknown-command", "led.blink"),
    ],
)
def test_the_plugin_checks_what_the_host_would_have_refused(
    actuator, command: str, arguments: dict[str, Any], case: str, names: str
) -> None:
    # A plugin does not trust its caller: past the host's check, it checks again.
    backend = sim()
    with pytest.raises(PluginReportedError) as err:
        actuator(backend).raw(command, **arguments)
    assert err.value.kind == case and names in str(err.value)
    assert backend.buzzer.played(13) == []


def test_a_buzzer_it_was_not_granted_is_a_hal_error(actuator) -> None:
    backend = sim()
    plugin = actuator(backend, {"leds": [{"strip": 0, "pixels": 8}], "buzzer": [12]})
    with pytest.raises(PluginReportedError) as err:
        plugin.invoke("buzzer.beep", frequency_hz=440, duration_ms=10)
    assert err.value.kind == "hal" and "not-granted" in str(err.value) and "13" in str(err.value)
    assert backend.buzzer.played(13) == []


def test_a_bad_setting_is_named(instantiate) -> None:
    export = instantiate("pi4-actuator", sim(), GRANTS, export=ActuatorExport)
    with pytest.raises(PluginReportedError) as err:
        export.init({"strip": "x"})
    assert err.value.kind == "bad-setting" and "strip = 'x'" in str(err.value)


async def test_a_node_runs_commands_through_the_plugin(plugin_dir: Path) -> None:
    config = make_node(
        plugin_dir,
        [{"name": "pi4-actuator", "grants": GRANTS, "settings": {"buzzer_pin": 13, "strip": 0}}],
        sim={
            "time_scale": 0,
            "leds": [{"strip": 0, "pixels": 8, "pin": 18}],
            "buzzer": [{"pin": 13, "kind": "pwm"}],
        },
    )
    async with running(config) as node:
        await node.wait_for(state_is("running", "pi4-actuator"))
        lit = await node.supervisor.command(
            "pi4-actuator", "led.set", {"index": 0, "rgb": 0xFF0000}
        )
        beep = await node.supervisor.command(
            "pi4-actuator", "buzzer.beep", {"frequency_hz": 880, "duration_ms": 50}
        )
        with pytest.raises(CommandRejected, match="frequency_hz"):
            await node.supervisor.command("pi4-actuator", "buzzer.beep", {"duration_ms": 50})
        pixels = node.backend.leds.pixels(0)
        tones = node.backend.buzzer.played(13)
    assert lit == {"pixels_set": 1, "color": "#ff0000", "strip": 0}
    assert beep == {"beeps": 1, "frequency_hz": 880, "duration_ms": 50}
    assert pixels == [0xFF0000] + [0] * 7
    assert [(t.frequency_hz, t.requested_ms) for t in tones] == [(880, 50)]
