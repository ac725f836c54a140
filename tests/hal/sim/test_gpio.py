"""SimGpio: pins keep the level last written."""

from __future__ import annotations

from harvester.hal.sim.gpio import SimGpio


def test_pins_read_low_until_written_then_what_was_written() -> None:
    gpio = SimGpio()
    assert gpio.read(17) is False
    gpio.write(17, True)
    assert gpio.read(17) is True
    assert gpio.read(18) is False
    gpio.write(17, False)
    assert gpio.read(17) is False
    assert dict(gpio.levels) == {17: False}
