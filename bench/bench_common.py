"""Shared pieces of the runtime benchmark: paths, targets, figures, the host rig, the build."""

from __future__ import annotations

import asyncio
import importlib
import os
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import wasmtime
from rich.console import Console
from wasmtime.component import Component

import harvester
from harvester.build.prepare import prepare_plugins
from harvester.config import Grants, Limits, SimConfig
from harvester.hal import PluginHal
from harvester.hal.sim.backend import SimBackend
from harvester.node.events import EventBus
from harvester.node.plugin_log import PluginLog
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.plugin import PluginInstance
from harvester.runtime.sensor import SensorExport

ROOT = Path(__file__).resolve().parents[1]
# The checkout whose `harvester` was imported. Children are pointed at the same copy.
HARVESTER_ROOT = Path(harvester.__file__).resolve().parents[1]

BUILD_OUT = ROOT / "build" / "bench-plugins"
BUILD_CACHE = ROOT / ".harvester" / "builds"
ARTIFACTS = ROOT / ".harvester" / "artifacts"
BME680_DIR = ROOT / "plugins" / "bme680"
HOSTILE = ROOT / "tests" / "plugins" / "hostile"
# Hostile plugins with a cheap init and a poll that returns or fails at once: fine to run
# for the memory figures. They stand in for "other plugins" of the same size class.
OTHER_PLUGINS = ("read-env", "raises", "absurd-read", "ungranted-i2c")
PLUGINS = ("bme680", *OTHER_PLUGINS)

BUS, ADDRESS = 1, 0x77
GRANTS = Grants(i2c=[{"bus": BUS, "addresses": [ADDRESS]}])
SIM = SimConfig(time_scale=0, i2c=[{"device": "bme680", "bus": BUS, "address": ADDRESS}])

TARGET_START_MS = 10.0
TARGET_POLL_RATIO = 5.0
TARGET_MB_PER_PLUGIN = 20.0
TARGET_MB_PER_INSTANCE = 6.0

# Piped output (a CI log, a report) gets room for the tables instead of rich's 80 columns.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 110)


@dataclass(frozen=True)
class Profile:
    """How much work each section does; --quick shrinks it."""

    starts: int = 30
    compiles: int = 2
    poll_warmup: int = 50
    polls: int = 2000
    extra_instances: int = 8
    soak_polls: int = 50_000
    deadline_runs: int = 50


QUICK = Profile(
    starts=10,
    compiles=1,
    poll_warmup=20,
    polls=300,
    extra_instances=4,
    soak_polls=10_000,
    deadline_runs=10,
)


@dataclass
class Figure:
    label: str
    value: float
    unit: str
    target: float | None = None  # a maximum; None = reported for context only

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "-"
        return "PASS" if self.value <= self.target else "MISS"


@dataclass
class Results:
    figures: dict[str, Figure] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, figure: Figure) -> None:
        self.figures[key] = figure


# --- small helpers ---------------------------------------------------------------------------


def ms(ns: float) -> float:
    return ns / 1e6


def us(ns: float) -> float:
    return ns / 1e3


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[-1]


def _proc_fields(path: str, wanted: set[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in Path(path).read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in wanted:
            out[key] = int(rest.split()[0])
    return out


def rss_kb() -> dict[str, int]:
    """VmRSS with its anonymous / file-backed parts, and PSS, in kB (no psutil needed).

    VmRSS counts a file page once per mapping that touched it; PSS divides shared pages
    among their mappings, so it is what this process really adds to the machine.
    """
    out = _proc_fields("/proc/self/status", {"VmRSS", "RssAnon", "RssFile"})
    rollup = Path("/proc/self/smaps_rollup")
    if rollup.exists():  # Linux >= 4.14
        out.update(_proc_fields(str(rollup), {"Pss"}))
    return out


def machine_load() -> float:
    """1-minute load average: other work on the machine skews every timing here."""
    return os.getloadavg()[0]


def child_env() -> dict[str, str]:
    """The environment for our children: they must import this very `harvester`."""
    existing = os.environ.get("PYTHONPATH")
    root = str(HARVESTER_ROOT)
    path = f"{root}{os.pathsep}{existing}" if existing else root
    return {**os.environ, "PYTHONPATH": path}


def load_driver() -> ModuleType:
    """The guest driver, imported natively: it is a plugin file (stdlib only), not a package."""
    if str(BME680_DIR) not in sys.path:
        sys.path.insert(0, str(BME680_DIR))
    return importlib.import_module("bme680_driver")


def component_path(plugin: str) -> Path:
    return BUILD_OUT / f"{plugin}.wasm"


class Host:
    """What a node gives its plugins: one engine, an event bus, a backend; a linker each.

    The event loop is never run: PluginLog publishes with call_soon_threadsafe and nothing
    needs to consume the events.
    """

    def __init__(self, engine: wasmtime.Engine, backend: SimBackend) -> None:
        self.engine = engine
        self.backend = backend
        self.bus = EventBus("bench", loop=asyncio.new_event_loop())

    def instantiate(
        self, plugin: str, component: Component, hal: PluginHal | None = None
    ) -> SensorExport:
        """A new instance's sensor export (`.instance` is the instance)."""
        log = PluginLog(plugin, self.bus)
        hal = hal or PluginHal(self.backend, GRANTS)
        instance = PluginInstance(
            name=plugin,
            engine=self.engine,
            component=component,
            hal=hal,
            grants=GRANTS,
            limits=Limits(),
            guest_log=log,
        )
        sensor = instance.export(SensorExport)
        if sensor is None:
            raise RuntimeError(f"{plugin} exports no sensor")
        return sensor


def load(host: Host, cache: ArtifactCache, plugin: str) -> Component:
    """The plugin's precompiled artifact, memory-mapped."""
    return cache.load(host.engine, component_path(plugin), plugin=plugin)


# --- 0. build and precompile ----------------------------------------------------------------


def prepare() -> None:
    """Build every plugin the benchmark uses and precompile it, two at a time (2 cores)."""
    folders = [BME680_DIR, *(HOSTILE / name for name in OTHER_PLUGINS)]
    console.print("[bold]Preparing plugins[/] (componentize-py builds and artifacts are cached)")
    prepare_plugins(
        folders,
        out_dir=BUILD_OUT,
        build_cache=BUILD_CACHE,
        artifacts=ArtifactCache(ARTIFACTS),
        report=console.print,
    )
