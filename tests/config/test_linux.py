"""The [linux] section: the wiring of a linux node, validated at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvester.config import ConfigError, LinuxConfig, load_node_config

NODE = '[node]\nname = "pi4"\nbackend = "linux"\n'


def load(tmp_path: Path, body: str) -> LinuxConfig:
    path = tmp_path / "node.toml"
    path.write_text(NODE + body)
    return load_node_config(path).linux


def test_the_seed_wiring_loads(tmp_path: Path) -> None:
    linux = load(
        tmp_path,
        '[[linux.dht22]]\npin = 4\niio_device = "iio:device0"\n'
        '[[linux.leds]]\nstrip = 0\ngpio = 18\npixels = 8\nbrightness = 64\n'
        '[[linux.buzzer]]\npin = 12\nkind = "pwm"\n',
    )  # fmt: skip
    assert [(s.pin, s.iio_device) for s in linux.dht22] == [(4, "iio:device0")]
    (strip,) = linux.leds
    assert (strip.gpio, strip.pixels, strip.brightness, strip.channel) == (18, 8, 64, 0)
    (buzzer,) = linux.buzzer
    assert (buzzer.kind, buzzer.pwm_chip, buzzer.pwm_channel) == ("pwm", 0, 0)


def test_the_section_defaults_to_no_extra_hardware() -> None:
    assert LinuxConfig() == LinuxConfig(gpio_chip=None, dht22=(), leds=(), buzzer=())


@pytest.mark.parametrize(
    ("body", "key", "shown"),
    [
        ('[[linux.leds]]\nstrip = 0\ngpio = 4\npixels = 8\n', "linux.leds[0].gpio", "4"),
        ('[[linux.leds]]\nstrip = 0\npixels = 0\n', "linux.leds[0].pixels", "0"),
        ('[[linux.buzzer]]\npin = 4\nkind = "pwm"\n', "linux.buzzer[0]", "no hardware PWM"),
        ('[[linux.buzzer]]\npin = 4\nkind = "piezo"\n', "linux.buzzer[0].kind", "'piezo'"),
        ('[[linux.dht22]]\npin = 4\niio_device = "dht0"\n', "linux.dht22[0].iio_device", "'dht0'"),
        ('[linux]\ngpio_chip = "/dev/mem"\n', "linux.gpio_chip", "'/dev/mem'"),
        ('[[linux.dht22]]\npin = 4\niio_device = "iio:device0"\n' * 2, "linux.dht22",
         "two dht22 sensors on gpio 4"),
        ('[[linux.dht22]]\npin = 18\niio_device = "iio:device0"\n'
         '[[linux.leds]]\nstrip = 0\npixels = 1\n', "linux",
         "gpio 18 is used by two devices"),
    ],
)  # fmt: skip
def test_errors_name_the_key_and_value(tmp_path: Path, body: str, key: str, shown: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, body)
    message = str(err.value)
    assert f"{key}:" in message
    assert shown in message
