"""`harvester plugin new`: a plugin folder from templates, for every kind of world.

The fast tests check what is written; the `wasm` test builds a scaffolded sensor with
componentize-py and runs the test it came with, as its author would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from harvester.build import load_manifest
from harvester.build.dev_bench import DevTable
from harvester.build.scaffold import ScaffoldError, scaffold
from harvester.build.worlds import contract_worlds

ROOT = Path(__file__).resolve().parents[2]
# The per-user cache of a scaffolded plugin's builds and trials (XDG_CACHE_HOME): under
# .harvester, so its builds are cached across runs like every test build.
USER_CACHE = ROOT / ".harvester" / "user-cache"
# The scaffold every build test shares (same name, same world: the same content hash).
SENSOR = ("scaffolded-sensor", "pi4-monitor-plugin")
DRIVEN = [w for w in contract_worlds().values() if w.kind is not None]


def with_user_cache() -> dict[str, str]:
    return {**os.environ, "XDG_CACHE_HOME": str(USER_CACHE), "PYTHONPATH": str(ROOT)}


@pytest.mark.parametrize("world", DRIVEN, ids=[w.name for w in DRIVEN])
def test_every_world_a_node_drives_gets_a_plugin_with_a_valid_dev_table(
    world, tmp_path: Path
) -> None:
    folder = scaffold("probe", world.name, plugins_dir=tmp_path)
    manifest = load_manifest(folder)
    assert (manifest.name, manifest.world) == ("probe", world.name)
    assert isinstance(manifest.dev, DevTable)
    # Every import is granted (an ungranted import is not linked: the plugin would not start).
    grants = manifest.dev.grants
    wanted = {"i2c": grants.i2c, "gpio-provider": grants.dht22, "system-info": grants.system_info,
              "leds": grants.leds, "buzzer": grants.buzzer, "node-readings": grants.readings,
              "hub-data": grants.hub_data}  # fmt: skip
    assert [i for i in world.imports if i in wanted and not wanted[i]] == []
    test = folder / "tests" / "test_probe.py"
    compile(test.read_text(), str(test), "exec")  # the generated test is Python
    compile((folder / "app.py").read_text(), "app.py", "exec")
    exported = {"sensor": "exports.Sensor", "actuator": "exports.Actuator", "http": "exports.Http"}
    assert exported[world.kind] in (folder / "app.py").read_text()


def test_the_sensor_template_follows_what_the_world_imports(tmp_path: Path) -> None:
    reads = {
        "dht22-plugin": "gpio_provider.read_dht22",
        "bme680-plugin": "i2c.transfer",
        "pi4-monitor-plugin": "system_info.get_cpu_temp",
        "sensor-plugin": "clock.now_ms",
    }
    for world, call in reads.items():
        folder = scaffold(world.removesuffix("-plugin") + "-x", world, plugins_dir=tmp_path)
        assert call in (folder / "app.py").read_text(), world


def test_the_dev_table_is_readable_toml_with_addresses_in_hex(tmp_path: Path) -> None:
    folder = scaffold("i2c-thing", "bme680-plugin", plugins_dir=tmp_path)
    text = (folder / "plugin.toml").read_text()
    assert "addresses = [0x77]" in text
    dev = tomllib.loads(text)["dev"]
    assert dev["sim"]["i2c"][0] == {"device": "bme680", "bus": 1, "address": 0x77,
                                    "temperature_c": 23.0}  # fmt: skip
    assert dev["settings"] == {"bus": 1, "address": 0x77}


def test_an_unknown_world_is_refused_naming_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError) as err:
        scaffold("thing", "weather-plugin", plugins_dir=tmp_path)
    message = str(err.value)
    assert "'weather-plugin' is not a world of the contract" in message
    for world in DRIVEN:
        assert f"{world.name} ({world.kind})" in message
    assert not (tmp_path / "thing").exists()


def test_a_world_that_exports_nothing_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="'plugin-base' exports nothing a node drives"):
        scaffold("thing", "plugin-base", plugins_dir=tmp_path)


@pytest.mark.parametrize("name", ["Thing", "9lives", "my_plugin", "a" * 33, "", "../up"])
def test_a_bad_name_is_refused_saying_what_a_name_is(name: str, tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="is not a plugin name: lowercase letters"):
        scaffold(name, "dht22-plugin", plugins_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_taken_name_is_refused_and_the_folder_left_alone(tmp_path: Path) -> None:
    (tmp_path / "dht22").mkdir()
    (tmp_path / "dht22" / "app.py").write_text("mine\n")
    with pytest.raises(ScaffoldError, match=r"dht22 already exists"):
        scaffold("dht22", "dht22-plugin", plugins_dir=tmp_path)
    assert (tmp_path / "dht22" / "app.py").read_text() == "mine\n"


@pytest.mark.wasm
@pytest.mark.slow
def test_a_scaffolded_sensor_builds_and_passes_its_own_test(tmp_path: Path) -> None:
    """As its author would: `plugin build`, then pytest on the plugin's folder."""
    folder = scaffold(*SENSOR, plugins_dir=tmp_path / "plugins")
    build = subprocess.run(
        [sys.executable, "-m", "harvester", "plugin", "build", str(folder),
         "--out", str(tmp_path / "out")],
        env=with_user_cache(), capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    assert (tmp_path / "out" / "scaffolded-sensor.wasm").stat().st_size > 1_000_000
    # Its own test, run from the plugin folder's parent as `pytest plugins/NAME` would be.
    test = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(folder),
         "--rootdir", str(tmp_path)],
        cwd=tmp_path, env=with_user_cache(), capture_output=True, text=True, timeout=900,
        check=False,
    )  # fmt: skip
    assert test.returncode == 0, test.stdout + test.stderr
    assert "1 passed" in test.stdout


def test_what_is_written_passes_the_repository_s_lint_and_format(tmp_path: Path) -> None:
    for world in DRIVEN:
        scaffold(world.name.removesuffix("-plugin") + "-x", world.name, plugins_dir=tmp_path)
    config = str(ROOT / "pyproject.toml")
    for check in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *check, "--config", config, str(tmp_path)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
