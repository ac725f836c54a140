"""SimGpio: free pins, configured inputs and outputs with their changes, owned pins refused."""

from __future__ import annotations

import pytest

from harvester.config import SimConfig
from harvester.hal.errors import HalRequestError
from harvester.hal.sim.backend import SimBackend
from harvester.hal.sim.gpio import PinMode, SimGpio


def test_free_pins_read_low_until_written_then_what_was_written() -> None:
    gpio = SimGpio()
    assert gpio.read(17) is False
    gpio.write(17, True)
    assert gpio.read(17) is True
    assert gpio.read(18) is False
    gpio.write(17, False)
    assert gpio.read(17) is False
    assert dict(gpio.levels) == {17: False}
    assert gpio.pin(17).mode is PinMode.OUTPUT


def test_outputs_record_each_change_on_the_sim_clock() -> None:
    sim = SimBackend(SimConfig(time_scale=0, gpio=[{"pin": 22, "mode": "output"}]))
    t0 = sim.clock.now_ms()
    sim.gpio.write(22, True)
    sim.clock.sleep_ms(100)
    sim.gpio.write(22, True)  # no change: not recorded again
    sim.gpio.write(22, False)
    changes = sim.gpio.pin(22).changes
    assert [c.high for c in changes] == [True, False]
    assert changes[1].at_ms - changes[0].at_ms >= 100 and changes[0].at_ms >= t0


def test_inputs_read_what_the_world_drives_and_refuse_writes() -> None:
    sim = SimBackend(SimConfig(time_scale=0, gpio=[{"pin": 27, "level": True}]))
    assert sim.gpio.read(27) is True
    sim.gpio.set_input(27, False)
    assert sim.gpio.read(27) is False
    assert [c.high for c in sim.gpio.pin(27).changes] == [False]
    with pytest.raises(HalRequestError, match="gpio 27 is an input"):
        sim.gpio.write(27, True)
    with pytest.raises(ValueError, match="gpio 5 is not an input"):
        sim.gpio.set_input(5, True)


def test_a_dht22_pin_is_not_a_free_gpio() -> None:
    sim = SimBackend(SimConfig(time_scale=0, dht22=[{"pin": 4, "failure_rate": 0}]))
    with pytest.raises(HalRequestError, match="gpio 4 is used by the dht22, not a free pin"):
        sim.gpio.write(4, True)
    with pytest.raises(HalRequestError, match="gpio 4 is used by the dht22"):
        sim.gpio.read(4)
    assert dict(sim.gpio.owners) == {4: "dht22"}


def test_a_pin_cannot_have_two_owners() -> None:
    gpio = SimGpio()
    gpio.claim(4, "dht22")
    with pytest.raises(ValueError, match="gpio 4 is already used by the dht22"):
        gpio.claim(4, "buzzer")
    with pytest.raises(ValueError, match="gpio 4 is already used by the dht22"):
        gpio.configure(4, PinMode.INPUT)
