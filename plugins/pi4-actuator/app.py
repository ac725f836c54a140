"""The Pi 4's buzzer and LED strip as commands (the actuator export).

Commands and their arguments are declared with the SDK's `@command`; the SDK checks the
arguments and turns errors into `command-error`s. The strip's colours are kept here (the
host shows what it is given and keeps nothing a plugin could read back), so `led.set` on
one pixel leaves the others as they were.
"""

from colors import color_text, parse_color
from componentize_py_types import Err
from harvester_sdk import ActuatorBase, Settings, command, log
from harvester_sdk.actuator import flag, integer, text
from wit_world import exports
from wit_world.exports import actuator
from wit_world.imports import buzzer, clock, leds

DEFAULT_BUZZER_PIN = 13
DEFAULT_STRIP = 0
# A beep pattern blocks the command while it plays (the host's tone returns at once and
# a new tone replaces the one sounding); it must end well inside the call's deadline.
MAX_PATTERN_MS = 1500

# componentize-py may make several Actuator objects: the device state is module-level.
_buzzer_pin = DEFAULT_BUZZER_PIN
_strip = DEFAULT_STRIP
_pixels: list[int] = []

_COLOR = text("color", "the colour as #rrggbb", required=False)
_RGB = integer("rgb", "the colour as an integer 0xRRGGBB", required=False, low=0, high=0xFFFFFF)


def bad_argument(message: str) -> Err:
    return Err(actuator.CommandError_BadArgument(message))


def _one_color(color: str | None, rgb: int | None) -> int:
    if (color is None) == (rgb is None):
        raise bad_argument("color, rgb: give exactly one")
    if rgb is not None:
        return rgb
    try:
        return parse_color(color)
    except ValueError as exc:
        raise bad_argument(str(exc)) from None


def _show(first: int, count: int, rgb: int) -> dict[str, object]:
    for index in range(first, first + count):
        _pixels[index] = rgb
    leds.show(_strip, _pixels)
    return {"pixels_set": count, "color": color_text(rgb), "strip": _strip}


class Actuator(ActuatorBase, exports.Actuator):
    def setup(self, settings: Settings) -> None:
        global _buzzer_pin, _strip, _pixels
        _buzzer_pin = settings.integer("buzzer_pin", DEFAULT_BUZZER_PIN, low=0, high=27)
        _strip = settings.integer("strip", DEFAULT_STRIP, low=0, high=255)
        _pixels = [0] * leds.pixel_count(_strip)
        log.info(f"buzzer on gpio {_buzzer_pin}, LED strip {_strip} of {len(_pixels)} pixels")

    @command(
        "buzzer.beep",
        "Beep the buzzer `count` times",
        integer("frequency_hz", "pitch (a PWM buzzer)", low=20, high=20_000),
        integer("duration_ms", "length of each beep", low=1, high=10_000),
        integer("count", "how many beeps", required=False, default=1, low=1, high=10),
        integer("gap_ms", "silence between beeps", required=False, default=100, low=0, high=1000),
    )
    def beep(self, frequency_hz: int, duration_ms: int, count: int, gap_ms: int):
        pattern_ms = (count - 1) * (duration_ms + gap_ms)
        if pattern_ms > MAX_PATTERN_MS:
            raise bad_argument(
                f"count = {count}: {count} beeps of {duration_ms} ms with {gap_ms} ms gaps"
                f" take {pattern_ms} ms, more than {MAX_PATTERN_MS}"
            )
        for n in range(count):
            if n:
                clock.sleep_ms(duration_ms + gap_ms)
            buzzer.tone(_buzzer_pin, frequency_hz, duration_ms)
        return {"beeps": count, "frequency_hz": frequency_hz, "duration_ms": duration_ms}

    @command("buzzer.off", "Silence the buzzer now")
    def buzzer_off(self):
        buzzer.off(_buzzer_pin)
        return {"pin": _buzzer_pin}

    @command(
        "led.set",
        "Set one pixel (index) or every pixel (all) to a colour",
        integer("index", "the pixel, from 0", required=False, low=0, high=1023),
        flag("all", "every pixel of the strip", required=False, default=False),
        _COLOR,
        _RGB,
    )
    def led_set(self, index: int | None, all: bool, color: str | None, rgb: int | None):
        rgb_value = _one_color(color, rgb)
        if all:
            if index is not None:
                raise bad_argument("index, all: give one, not both")
            return _show(0, len(_pixels), rgb_value)
        if index is None:
            raise bad_argument("index: missing (or give all = true)")
        if index >= len(_pixels):
            raise bad_argument(f"index = {index}: the strip has {len(_pixels)} pixels")
        return _show(index, 1, rgb_value)

    @command("led.fill", "Set every pixel to one colour", _COLOR, _RGB)
    def led_fill(self, color: str | None, rgb: int | None):
        return _show(0, len(_pixels), _one_color(color, rgb))

    @command("led.off", "Turn every pixel off")
    def led_off(self):
        return _show(0, len(_pixels), 0)
