"""pi4-actuator: the buzzer and the LED strip as commands, sandboxed, against the
simulated buzzer (which records its tones) and WS2812B strip (which holds its pixels)."""

from __future__ import annotations

from typing import Any

import pytest
from wasmtime.component import Variant

from harvester.config import SimConfig
from harvester.constants import IFACE_ACTUATOR
from harvester.hal.sim.backend import SimBackend
from harvester.runtime.host_api import record

pytestmark = pytest.mark.wasm

GRANTS = {"leds": [{"strip": 0, "pixels": 8}], "buzzer": [13]}
_KINDS = {bool: "flag", int: "integer", float: "number", str: "text"}


class Actuator:
    """The actuator export called directly (the node's command path is the owner's)."""

    INTERFACE = IFACE_ACTUATOR

    def __init__(self, instance) -> None:
        self.instance = instance
        self._init = instance.func(IFACE_ACTUATOR, "init")
        self._commands = instance.func(IFACE_ACTUATOR, "commands")
        self._invoke = instance.func(IFACE_ACTUATOR, "invoke")

    def init(self, **settings: Any) -> Any:
        args = [record(key=k, value=str(v)) for k, v in settings.items()]
        return self.instance.call(self._init, args)

    def commands(self) -> dict[str, list[tuple[str, str, bool]]]:
        return {
            c.name: [(p.name, p.kind, p.required) for p in c.parameters]
            for c in self.instance.call(self._commands)
        }

    def invoke(self, command: str, **arguments: Any) -> dict[str, Any] | tuple[str, Any]:
        """The result as a dict, or an error as (case, payload)."""
        args = [record(name=k, value=Variant(_KINDS[type(v)], v)) for k, v in arguments.items()]
        result = self.instance.call(self._invoke, command, args)
        if isinstance(result, Variant):
            return (result.tag, result.payload)
        return {a.name: a.value.payload for a in result}


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
        plugin = instantiate("pi4-actuator", backend, grants, export=Actuator)
        assert plugin.init(buzzer_pin=13, strip=0) is None
        return plugin

    return make


def test_lists_its_commands_with_typed_parameters(actuator) -> None:
    commands = actuator(sim()).commands()
    assert sorted(commands) == ["buzzer.beep", "buzzer.off", "led.fill", "led.off", "led.set"]
    assert commands["buzzer.beep"][:2] == [
        ("frequency_hz", "integer", True),
        ("duration_ms", "integer", True),
    ]
    assert ("count", "integer", False) in commands["buzzer.beep"]
    assert ("color", "text", False) in commands["led.set"]


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
        ("buzzer.beep", {"duration_ms": 10}, "bad-argument", "frequency_hz: missing"),
        ("buzzer.beep", {"frequency_hz": "440", "duration_ms": 10}, "bad-argument", "integer"),
        ("buzzer.beep", {"frequency_hz": 440, "duration_ms": 900, "count": 3},
         "bad-argument", "more than 1500"),
        ("led.blink", {}, "unknown-command", "led.blink"),
    ],
)  # fmt: skip
def test_bad_commands_are_refused_by_name_and_touch_nothing(
    actuator, command: str, arguments: dict[str, Any], case: str, names: str
) -> None:
    backend = sim()
    plugin = actuator(backend)
    error = plugin.invoke(command, **arguments)
    assert isinstance(error, tuple) and error[0] == case and names in error[1], error
    assert backend.buzzer.played(13) == []
    assert backend.leds.pixels(0) == [0] * 8


def test_a_buzzer_it_was_not_granted_is_a_hal_error(actuator) -> None:
    backend = sim()
    plugin = actuator(backend, {"leds": [{"strip": 0, "pixels": 8}], "buzzer": [12]})
    case, payload = plugin.invoke("buzzer.beep", frequency_hz=440, duration_ms=10)
    assert case == "hal" and payload.tag == "not-granted" and "13" in payload.payload
    assert backend.buzzer.played(13) == []


def test_a_bad_setting_is_named(instantiate) -> None:
    plugin = instantiate("pi4-actuator", sim(), GRANTS, export=Actuator)
    error = plugin.init(strip="x")
    assert isinstance(error, Variant) and error.tag == "bad-setting"
    assert "strip = 'x'" in error.payload
