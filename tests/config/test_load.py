"""Node config loading: good files become frozen objects, bad ones name file, key and value."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from harvester.config import ConfigError, load_node_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sim-node.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "node.toml"
    path.write_text(text)
    return path


def test_the_example_config_loads_with_paths_relative_to_the_file() -> None:
    config = load_node_config(EXAMPLE)
    assert config.name == "pi4"
    # resolve(): build/ may be a symlink (it is in a git worktree sharing builds).
    assert config.plugin_dir == (EXAMPLE.parent.parent / "build" / "plugins").resolve()
    bme680, dht22 = config.plugins
    assert bme680.grants.allows_i2c(1, 0x77)
    assert not bme680.grants.allows_i2c(1, 0x76)
    assert not bme680.grants.allows_i2c(0, 0x77)
    assert dht22.grants.dht22 == (4,) and not dht22.grants.i2c


def test_config_is_frozen() -> None:
    config = load_node_config(EXAMPLE)
    with pytest.raises(ValidationError):
        config.plugins[0].poll_interval_s = 0.001  # type: ignore[misc]


@pytest.mark.parametrize(
    ("body", "key", "value"),
    [
        ('[node]\nname = "pi4"\n[[plugins]]\nname = "bme680"\npoll_interval_s = -1\n',
         "plugins[0].poll_interval_s", "-1"),
        ('[node]\nname = "pi4"\n[[plugins]]\nname = "x"\n'
         'grants = { i2c = [{ bus = 1, addresses = [0x99] }] }\n',
         "plugins[0].grants.i2c[0].addresses[0]", "153"),
        ('[node]\nname = "Pi 4!"\n', "name", "'Pi 4!'"),
        ('[node]\nname = "pi4"\nbackend = "gpio"\n', "backend", "'gpio'"),
        ('[node]\nname = "pi4"\n[[plugins]]\nname = "a"\nmemory = 5\n', "plugins[0].memory", "5"),
        ('[node]\nname = "pi4"\n[[plugins]]\nname = "a"\nlimits = { memory_mb = 4096 }\n',
         "plugins[0].limits.memory_mb", "4096"),
    ],
)  # fmt: skip
def test_errors_name_file_key_and_value(tmp_path: Path, body: str, key: str, value: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as err:
        load_node_config(path)
    message = str(err.value)
    assert str(path) in message
    assert key in message
    assert value in message


def test_duplicate_plugin_names_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[node]\nname = "pi4"\n[[plugins]]\nname = "a"\n[[plugins]]\nname = "a"\n'
    )
    with pytest.raises(ConfigError, match="repeated: a"):
        load_node_config(path)


def test_two_sim_devices_on_one_address_are_refused(tmp_path: Path) -> None:
    body = '[node]\nname = "pi4"\n' + '[[sim.i2c]]\ndevice = "bme680"\naddress = 0x77\n' * 2
    with pytest.raises(ConfigError, match="two devices on bus 1 at address 0x77"):
        load_node_config(write(tmp_path, body))


def test_broken_toml_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_node_config(write(tmp_path, "[node\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_node_config(tmp_path / "absent.toml")


def test_the_documented_example_loads(tmp_path: Path) -> None:
    doc = (EXAMPLE.parents[1] / "docs" / "config.md").read_text()
    body = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    config = load_node_config(write(tmp_path, body))
    bme680, oled = config.sim.i2c
    assert bme680.noise is not None and bme680.noise.gas_fraction == 0.01
    assert (oled.device, oled.address) == ("ssd1306", 0x3C)
    assert config.sim.dht22[0].drift is not None
    assert [len(config.sim.leds), len(config.sim.buzzer), len(config.sim.gpio)] == [1, 1, 1]
    assert bme680.dump == tmp_path.resolve() / "bme680.dump"
