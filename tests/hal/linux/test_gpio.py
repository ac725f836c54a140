"""LinuxGpio against gpiod faked at the line-request level (real gpiod settings types)."""

from __future__ import annotations

from pathlib import Path

import gpiod
import pytest

from harvester.hal.errors import BackendUnavailable, HalError
from harvester.hal.linux.gpio import LinuxGpio, find_soc_chip
from tests.hal.linux.fakes import fake_gpiod

ACTIVE, INACTIVE = gpiod.line.Value.ACTIVE, gpiod.line.Value.INACTIVE
CHIP = "/dev/gpiochip0"


@pytest.fixture
def dev(tmp_path: Path) -> Path:
    """A /dev with the chip's device node (an empty file stands for it)."""
    (tmp_path / "gpiochip0").touch()
    return tmp_path


def test_a_read_requests_the_pin_as_input_once(dev: Path) -> None:
    fake = fake_gpiod()
    gpio = LinuxGpio(CHIP, gpiod_module=fake, dev=dev)
    assert gpio.read(17) is False
    fake.levels[17] = ACTIVE  # the wire goes high
    assert gpio.read(17) is True
    assert fake.log == ["request 17 INPUT"]
    assert fake.requests[0][0] == "/dev/gpiochip0"


def test_a_write_requests_an_output_with_the_level_then_sets_values(dev: Path) -> None:
    fake = fake_gpiod()
    gpio = LinuxGpio(CHIP, gpiod_module=fake, dev=dev)
    gpio.write(23, True)
    gpio.write(23, False)
    assert fake.log == ["request 23 OUTPUT", "set 23 INACTIVE"]
    ((_, config, _),) = fake.requests
    assert config[23].output_value == ACTIVE  # driven high from the first instant
    assert fake.levels[23] == INACTIVE
    # Reading a driven pin reads it back, without turning it into an input.
    assert gpio.read(23) is False
    assert len(fake.requests) == 1


def test_a_write_to_an_input_gives_it_back_and_takes_it_as_output(dev: Path) -> None:
    fake = fake_gpiod()
    gpio = LinuxGpio(CHIP, gpiod_module=fake, dev=dev)
    gpio.read(5)
    gpio.write(5, True)
    assert fake.log == ["request 5 INPUT", "release [5]", "request 5 OUTPUT"]
    assert fake.levels[5] == ACTIVE


def test_a_pin_held_by_the_kernel_is_one_line_naming_it(dev: Path) -> None:
    gpio = LinuxGpio(CHIP, gpiod_module=fake_gpiod(busy=frozenset({4})), dev=dev)
    with pytest.raises(HalError) as err:
        gpio.read(4)
    assert type(err.value) is HalError
    assert str(err.value) == (
        "gpio 4 on /dev/gpiochip0 is busy: the kernel (an overlay such as dht11)"
        " or another program holds it"
    )


def test_close_releases_every_line(dev: Path) -> None:
    fake = fake_gpiod()
    gpio = LinuxGpio(CHIP, gpiod_module=fake, dev=dev)
    gpio.read(5)
    gpio.write(6, True)
    gpio.close()
    assert all(request.released for _, _, request in fake.requests)


def test_a_configured_chip_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable) as err:
        LinuxGpio("/dev/gpiochip7", gpiod_module=fake_gpiod(), dev=tmp_path)
    assert str(err.value) == "gpio: /dev/gpiochip7 does not exist ([linux] gpio_chip)"


def test_the_soc_chip_is_found_by_its_label(tmp_path: Path) -> None:
    for name in ("gpiochip0", "gpiochip1"):
        (tmp_path / name).touch()
    fake = fake_gpiod(labels={"gpiochip0": "raspberrypi-exp-gpio", "gpiochip1": "pinctrl-bcm2711"})
    assert find_soc_chip(fake, tmp_path) == str(tmp_path / "gpiochip1")
    assert LinuxGpio(gpiod_module=fake, dev=tmp_path).chip == str(tmp_path / "gpiochip1")


def test_no_soc_chip_is_backend_unavailable_listing_what_is_there(tmp_path: Path) -> None:
    (tmp_path / "gpiochip0").touch()
    fake = fake_gpiod(labels={"gpiochip0": "gpio-mockup-A"})
    with pytest.raises(BackendUnavailable) as err:
        LinuxGpio(gpiod_module=fake, dev=tmp_path)
    assert str(err.value) == (
        "gpio: no chip labelled pinctrl-bcm2711 / pinctrl-bcm2835 / pinctrl-rp1"
        " (gpiochip0: gpio-mockup-A); set [linux] gpio_chip, and add the node's user to"
        " group gpio"
    )
