"""`harvester plugin new`: a plugin folder from templates, for a world of the contract.

What is written: `app.py` (a template chosen by what the world exports and imports),
`plugin.toml` (with a `[dev]` table: the grants, settings and simulated devices it is
tried with) and `tests/test_<name>.py`, which builds it and runs it on the dev bench
(harvester.node.trial). The result builds and passes its test as generated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Any

from harvester.build.dev_bench import REFERENCE_SIM, grants_for
from harvester.build.errors import BuildError
from harvester.build.manifest import MANIFEST_NAME, load_manifest
from harvester.build.worlds import World, contract_worlds

TEMPLATES = "harvester.build.templates"
NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
TEST_DIR = "tests"  # not part of the component: the builder skips it


class ScaffoldError(BuildError):
    """A plugin cannot be scaffolded: a bad or taken name, or an unknown world."""


@dataclass(frozen=True)
class Flavour:
    """One template: its app.py, the [dev] table it needs, and its generated test."""

    template: str
    summary: str
    settings: dict[str, Any] = field(default_factory=dict)
    sim: dict[str, Any] = field(default_factory=dict)
    grants: dict[str, Any] = field(default_factory=dict)  # narrower than the world's
    what: str = "polled three times; every poll answers"
    body: str = ""


_POLLS = "    trial = run_trial(PLUGIN, polls=3)\n    assert trial.ok, trial.problem\n"
# Sensor templates by the import they read, in order of preference.
_SENSORS: dict[str, Flavour] = {
    "gpio-provider": Flavour(
        "sensor_dht22",
        "temperature and humidity from a DHT22",
        settings={"pin": 4},
        sim={"dht22": [{"pin": 4, "temperature_c": 21.5, "humidity_rh": 48.0, "failure_rate": 0}]},
        body=_POLLS + '    assert abs(trial.last["temperature"] - 21.5) <= 1.0  # the sim\n'
        '    assert abs(trial.last["humidity"] - 48.0) <= 2.0\n',
    ),
    "system-info": Flavour(
        "sensor_system",
        "the node's SoC temperature and memory use",
        sim={"cpu_temp_c": 48.0},
        body=_POLLS + '    assert abs(trial.last["soc_temperature"] - 48.0) <= 1.0  # the sim\n'
        '    assert 0 < trial.last["memory_used_percent"] < 100\n',
    ),
    "i2c": Flavour(
        "sensor_i2c",
        "an I2C driver's start: a BME680's raw temperature",
        settings={"bus": 1, "address": 0x77},
        grants={"i2c": [{"bus": 1, "addresses": [0x77]}]},
        sim={"i2c": [{"device": "bme680", "bus": 1, "address": 0x77, "temperature_c": 23.0}]},
        body=_POLLS + '    assert 0 < trial.last["temperature_adc"] < 2**20\n',
    ),
}
_CLOCK = Flavour(
    "sensor_clock",
    "how long it has been running",
    body=_POLLS + '    times = [poll["running_time"] for poll in trial.values]\n'
    "    assert times == sorted(times)\n",
)
_ACTUATOR = Flavour(
    "actuator",
    "answers counter.add",
    what="asked two commands",
    body="    trial = run_trial(\n"
    '        PLUGIN, calls=[("counter.add", {"amount": 2}), ("counter.add", {"amount": 3})]\n'
    "    )\n    assert trial.ok, trial.problem\n"
    '    assert trial.answers == [{"total": 2}, {"total": 5}]\n',
)
_HTTP = Flavour(
    "http",
    "pages served by the hub",
    what="asked for its page",
    body='    trial = run_trial(PLUGIN, requests=["/"])\n    assert trial.ok, trial.problem\n'
    "    assert trial.responses[0].status == 200\n"
    '    assert b"<h1>' + "$name" + '</h1>" in trial.responses[0].body\n',
)


def flavour_of(world: World) -> Flavour:
    if world.kind == "actuator":
        return _ACTUATOR
    if world.kind == "http":
        return _HTTP
    return next((f for name, f in _SENSORS.items() if name in world.imports), _CLOCK)


def _toml(value: Any, key: str = "") -> str:
    """A value as TOML, inline (tables as `{ k = v }`); I2C addresses in hex, as the
    datasheets write them. Only what [dev] holds."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:#04x}" if key in ("address", "addresses") else str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v, key) for v in value) + "]"
    return "{ " + ", ".join(f"{k} = {_toml(v, k)}" for k, v in value.items()) + " }"


def dev_table(world: World, flavour: Flavour) -> str:
    """The [dev] table's body: grants for every import, the flavour's settings and sim."""
    sim: dict[str, Any] = {"time_scale": 0, **flavour.sim}
    for device in ("leds", "buzzer"):  # what the world's other imports drive, as wired
        if device in world.imports:
            sim[device] = REFERENCE_SIM[device]
    lines = ["poll_interval_s = 0.1", f"grants = {_toml(grants_for(world) | flavour.grants)}"]
    if flavour.settings:
        lines.append(f"settings = {_toml(flavour.settings)}")
    lines += ["", "[dev.sim]  # the simulated devices; keys as in a node config's [sim]"]
    lines += [f"{key} = {_toml(value)}" for key, value in sim.items()]
    return "\n".join(lines)


def _render(template: str, **values: str) -> str:
    text = (files(TEMPLATES) / f"{template}.tmpl").read_text(encoding="utf-8")
    return Template(text).substitute(values)


def scaffold(name: str, world_name: str, *, plugins_dir: Path) -> Path:
    """Write `plugins_dir/name/` for `world_name`; returns the folder.

    Raises ScaffoldError when the name is not a plugin name, the folder exists, or the
    world is not one of the contract's (the message lists those).
    """
    if not NAME.match(name):
        raise ScaffoldError(
            f"{name!r} is not a plugin name: lowercase letters, digits and '-', starting"
            " with a letter, at most 32 characters"
        )
    worlds = contract_worlds()
    world = worlds.get(world_name)
    if world is None or world.kind is None:
        known = ", ".join(f"{w.name} ({w.kind})" for w in worlds.values() if w.kind)
        why = "exports nothing a node drives" if world else "is not a world of the contract"
        raise ScaffoldError(f"world {world_name!r} {why}; the worlds are: {known}")
    folder = plugins_dir / name
    if folder.exists():
        raise ScaffoldError(f"{folder} already exists; choose another name or remove it")
    flavour = flavour_of(world)
    test_file = f"test_{name.replace('-', '_')}.py"
    manifest = _render(
        "plugin.toml",
        name=name,
        world=world.name,
        summary=flavour.summary,
        test_file=test_file,
        dev=dev_table(world, flavour),
    )
    body = Template(flavour.body).substitute(name=name)
    test = _render(
        "test_plugin.py",
        name=name,
        what=flavour.what,
        func=f"{name.replace('-', '_')}_on_the_dev_bench",
        body=body.rstrip("\n"),
    )
    (folder / TEST_DIR).mkdir(parents=True)
    (folder / "app.py").write_text(_render(f"{flavour.template}.py", name=name), encoding="utf-8")
    (folder / MANIFEST_NAME).write_text(manifest, encoding="utf-8")
    (folder / TEST_DIR / test_file).write_text(test, encoding="utf-8")
    load_manifest(folder)  # what was written must read back (ManifestError, a BuildError)
    return folder
