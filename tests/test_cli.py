"""The `harvester` command as a user runs it: a real process, stopped with Ctrl-C (SIGINT)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest

from harvester.build import content_hash, find_plugins, load_manifest
from harvester.build.user_cache import default_build_cache, default_out_dir, user_cache_dir
from harvester.cli import parser
from tests.conftest import ARTIFACTS, BUILD_CACHE, ROOT

NODE = """
[node]
name = "cli-test"
plugin_dir = "{plugins}"
cache_dir = "{artifacts}"
[sim]
time_scale = 0
[[sim.i2c]]
device = "bme680"
temperature_c = 19.0
[[plugins]]
name = "bme680"
poll_interval_s = 0.1
grants = {{ i2c = [{{ bus = 1, addresses = [0x77] }}] }}
"""


async def harvester(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "harvester", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.wasm
async def test_run_prints_readings_and_logs_then_stops_cleanly_on_ctrl_c(
    plugin_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "node.toml"
    config.write_text(NODE.format(plugins=plugin_dir, artifacts=ARTIFACTS))
    proc = await harvester("run", "--config", str(config))
    assert proc.stdout and proc.stderr
    seen: list[str] = []
    async with asyncio.timeout(60):
        while not any("temperature=19.00 °C" in line for line in seen):
            line = (await proc.stdout.readline()).decode()
            assert line, f"harvester exited early: {(await proc.stderr.read()).decode()}"
            seen.append(line)
    proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(30):
        rest, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert "stopped cleanly" in err.decode()
    output = "".join(seen) + rest.decode()
    assert "BME680 ready on bus 1 at 0x77" in output  # the plugin's own log line
    assert "running" in output


async def test_a_bad_config_exits_2_naming_file_key_and_value(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text('[node]\nname = "x"\n[[plugins]]\nname = "p"\npoll_interval_s = "often"\n')
    proc = await harvester("run", "--config", str(config))
    async with asyncio.timeout(30):
        _, err = await proc.communicate()
    text = err.decode()
    assert proc.returncode == 2
    assert f"config error: {config}: " in text
    assert "plugins[0].poll_interval_s" in text
    assert "'often'" in text


@pytest.mark.wasm
async def test_plugin_build_reports_each_plugin(plugin_dir: Path, tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    proc = await harvester(
        "plugin", "build", str(root / "plugins" / "bme680"), str(tmp_path / "missing"),
        "--out", str(tmp_path / "out"), "--cache", str(root / ".harvester" / "builds"),
    )  # fmt: skip
    async with asyncio.timeout(120):
        _, err = await proc.communicate()
    text = err.decode()
    assert proc.returncode == 1  # one of the two folders is not a plugin
    assert "bme680 → " in text and "(cached)" in text
    assert f"{tmp_path / 'missing' / 'plugin.toml'}: cannot read" in " ".join(text.split())
    assert (tmp_path / "out" / "bme680.wasm").is_file()
    assert f"1 of 2 plugins in {tmp_path / 'out'}" in " ".join(text.split())


def test_plugin_build_has_no_default_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = parser().parse_args(["plugin", "build", "plugins"])
    assert args.out is None and args.cache is None  # decided at run time, from the user cache
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_out_dir() == tmp_path / "xdg" / "harvester" / "plugins"
    assert default_build_cache() == tmp_path / "xdg" / "harvester" / "builds"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # the XDG spec says: ignore it
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_cache_dir() == tmp_path / "home" / ".cache" / "harvester"
    with pytest.raises(SystemExit):  # no folder given: no guessing at ./plugins
        parser().parse_args(["plugin", "build"])


@pytest.mark.wasm
async def test_plugin_build_of_a_plugins_folder_goes_to_the_user_cache(
    plugin_dir: Path, tmp_path: Path
) -> None:
    xdg = tmp_path / "xdg"
    cache = xdg / "harvester" / "builds"
    cache.mkdir(parents=True)
    plugins = find_plugins(ROOT / "plugins")
    for folder in plugins:  # what plugin_dir built, so this run copies instead of building
        manifest = load_manifest(folder)
        name = f"{manifest.name}-{content_hash(folder, manifest)[:32]}.wasm"
        shutil.copy(BUILD_CACHE / name, cache / name)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "XDG_CACHE_HOME": str(xdg), "PYTHONPATH": str(ROOT)}
    proc = await harvester("plugin", "build", str(ROOT / "plugins"), cwd=elsewhere, env=env)
    async with asyncio.timeout(120):
        _, err = await proc.communicate()
    text = " ".join(err.decode().split())
    assert proc.returncode == 0, text
    assert text.count("(cached)") == len(plugins) >= 2
    assert f"{len(plugins)} of {len(plugins)} plugins in {xdg / 'harvester' / 'plugins'}" in text
    assert sorted(p.name for p in (xdg / "harvester" / "plugins").iterdir()) == sorted(
        f"{load_manifest(folder).name}.wasm{sidecar}"
        for folder in plugins
        for sidecar in ("", ".sha256")  # each with its sha256 sidecar
    )
    assert list(elsewhere.iterdir()) == []


async def test_an_unavailable_backend_exits_2_saying_why(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    # A GPIO chip that is not there (or, without gpiod installed, gpiod itself).
    config.write_text(
        '[node]\nname = "pi4"\nbackend = "linux"\n[linux]\ngpio_chip = "/dev/gpiochip99"\n'
        '[[plugins]]\nname = "relay"\ngrants = { gpio = [17] }\n'
    )
    proc = await harvester("run", "--config", str(config))
    async with asyncio.timeout(30):
        _, err = await proc.communicate()
    assert proc.returncode == 2
    *_, line = err.decode().splitlines()  # after the "node pi4 (...)" banner
    assert line.startswith("cannot run: node 'pi4' (backend linux): gpio")
    assert "Traceback" not in err.decode()


@pytest.mark.wasm
async def test_ctrl_c_during_a_first_start_precompile_exits_at_once(
    plugin_dir: Path, tmp_path: Path
) -> None:
    """Compiling takes seconds here and minutes on a Pi; a stop must not wait for it."""
    config = tmp_path / "node.toml"
    config.write_text(NODE.format(plugins=plugin_dir, artifacts=tmp_path / "cold"))
    proc = await harvester("run", "--config", str(config))
    assert proc.stdout
    async with asyncio.timeout(60):
        while b"precompiling bme680.wasm" not in (line := await proc.stdout.readline()):
            assert line, "harvester exited before precompiling"
    stopping = asyncio.get_running_loop().time()
    proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(30):
        _, err = await proc.communicate()
    took = asyncio.get_running_loop().time() - stopping
    assert proc.returncode == 0, err.decode()
    assert took <= 2.0, f"exiting took {took:.1f} s"
