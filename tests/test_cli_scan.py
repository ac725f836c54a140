"""`harvester scan` as a user runs it, against the sim backend of a node config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

NODE = """
[node]
name = "scan-test"
[sim]
time_scale = 0
[[sim.i2c]]
device = "bme680"
bus = 1
address = 0x76
"""


def scan(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harvester", "scan", "--config", str(config), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_scan_names_the_chip_the_plugin_and_the_grant(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text(NODE)
    done = scan(config)
    assert done.returncode == 0, done.stderr
    lines = [line.strip() for line in done.stdout.splitlines()]
    assert lines == [
        "i2c bus 1: 1 device(s) at 0x08..0x77",
        "0x76  BME680",
        "plugin: bme680",
        "grants.i2c = [{ bus = 1, addresses = [0x76] }]",
    ]


def test_scan_of_an_empty_bus_says_so(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text(NODE)
    done = scan(config, "--bus", "2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["i2c bus 2: 0 device(s) at 0x08..0x77"]


def test_scan_of_the_reference_spoke_finds_its_display_and_sensor() -> None:
    done = scan(Path(__file__).resolve().parents[1] / "examples" / "pi4.toml")
    assert done.returncode == 0, done.stderr
    lines = [line.strip() for line in done.stdout.splitlines()]
    assert lines == [
        "i2c bus 1: 2 device(s) at 0x08..0x77",
        "0x3c  SSD1306",
        "plugin: oled",
        "grants.i2c = [{ bus = 1, addresses = [0x3c] }]",
        "0x77  BME680",
        "plugin: bme680",
        "grants.i2c = [{ bus = 1, addresses = [0x77] }]",
    ]
