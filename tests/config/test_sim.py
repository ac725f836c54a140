"""The [sim] section: device schemas, the tagged I2C union and paths relative to the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvester.config import ConfigError, SimBme680, SimConfig, SimDht22, load_node_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "node.toml"
    path.write_text('[node]\nname = "pi4"\n' + text)
    return path


def test_defaults_are_those_documented() -> None:
    bme680 = SimBme680(device="bme680")
    assert (bme680.bus, bme680.address, bme680.temperature_c) == (1, 0x77, 22.0)
    assert (bme680.pressure_hpa, bme680.humidity_rh, bme680.gas_ohm) == (1013.25, 45.0, 50_000.0)
    assert bme680.dump is None and bme680.noise is None
    dht = SimDht22()
    assert (dht.pin, dht.temperature_c, dht.humidity_rh, dht.failure_rate) == (4, 21.0, 50.0, 0.05)
    sim = SimConfig()
    assert (sim.time_scale, sim.seed, sim.cpu_temp_c, sim.i2c, sim.dht22) == (1.0, 0, 48.0, (), ())


def test_devices_lists_every_device_in_field_order() -> None:
    sim = SimConfig(
        dht22=[{"pin": 17}],
        i2c=[{"device": "bme680"}, {"device": "bme680", "address": 0x76}],
    )
    assert [type(d).__name__ for d in sim.devices()] == ["SimBme680", "SimBme680", "SimDht22"]
    assert sim.devices()[1] == SimBme680(device="bme680", address=0x76)


def test_relative_dump_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[[sim.i2c]]\ndevice = "bme680"\ndump = "dumps/a.dump"\n')
    (device,) = load_node_config(path).sim.i2c
    assert device.dump == tmp_path.resolve() / "dumps" / "a.dump"


def test_a_bad_device_value_names_the_key_without_the_union_tag(tmp_path: Path) -> None:
    path = write(tmp_path, '[[sim.i2c]]\ndevice = "bme680"\ntemperature_c = 200\n')
    with pytest.raises(ConfigError) as err:
        load_node_config(path)
    assert err.value.problems == [
        "sim.i2c[0].temperature_c: Input should be less than or equal to 85 (got 200)"
    ]


def test_an_unknown_device_names_the_devices_there_are(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sim\.i2c\[0\]: .*'toaster'.*'bme680'"):
        load_node_config(write(tmp_path, '[[sim.i2c]]\ndevice = "toaster"\n'))


def test_two_dht22_sensors_on_one_pin_are_refused(tmp_path: Path) -> None:
    body = "[[sim.dht22]]\npin = 4\n" * 2
    with pytest.raises(ConfigError, match="two dht22 sensors on gpio 4"):
        load_node_config(write(tmp_path, body))


def test_new_device_defaults_are_those_documented() -> None:
    from harvester.config import SimBuzzer, SimGpioPin, SimLedStrip, SimSsd1306

    oled = SimSsd1306(device="ssd1306")
    assert (oled.bus, oled.address, oled.external_vcc) == (1, 0x3C, False)
    strip = SimLedStrip()
    assert (strip.strip, strip.pixels, strip.pin) == (0, 8, 18)
    buzzer = SimBuzzer()
    assert (buzzer.pin, buzzer.kind) == (13, "pwm")
    assert (SimGpioPin(pin=5).mode, SimGpioPin(pin=5).level) == ("input", False)
    assert SimDht22().drift is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            '[[sim.i2c]]\ndevice = "ssd1306"\naddress = 0x3e\n',
            "sim.i2c[0].address: Value error, an ssd1306 answers only at 0x3c or 0x3d, not 0x3e",
        ),
        ('[[sim.buzzer]]\npin = 13\nkind = "piezo"\n', "sim.buzzer[0].kind"),
        ("[[sim.leds]]\nstrip = 0\npixels = 0\n", "sim.leds[0].pixels"),
        (
            "[[sim.leds]]\nstrip = 0\n[[sim.leds]]\nstrip = 0\npin = 13\n",
            "led strip 0 is listed twice",
        ),
        (
            "[[sim.dht22]]\npin = 13\n[[sim.buzzer]]\npin = 13\n",
            "gpio 13 is wired to both a dht22 and a buzzer",
        ),
        ("[[sim.dht22]]\ndrift = { temperature_c = -1 }\n", "sim.dht22[0].drift.temperature_c"),
    ],
)
def test_bad_device_values_name_the_key(tmp_path: Path, body: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_node_config(write(tmp_path, body))
    assert any(problem in p for p in err.value.problems), err.value.problems
