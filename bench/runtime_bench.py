"""Harvester runtime benchmark: plugin start, cold compile, poll cost and memory per plugin.

    python bench/runtime_bench.py [--quick] [--json PATH]

Builds the plugins it needs (cached by content hash), precompiles them, then measures and
prints every figure with its target and PASS/MISS. It always exits 0 once it has measured:
a benchmark reports, it does not gate CI. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from types import ModuleType
from typing import Any

import wasmtime
from rich.console import Console
from rich.table import Table
from wasmtime.component import Component

import harvester
from harvester.build import build_plugin
from harvester.config import Grants, Limits, SimConfig
from harvester.hal import PluginHal
from harvester.hal.sim.backend import SimBackend
from harvester.hal.sim.bme680 import Bme680Sim
from harvester.node.events import EventBus
from harvester.node.plugin_log import PluginLog
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.engine import EpochTicker, make_engine
from harvester.runtime.errors import PluginFault, PluginReportedError
from harvester.runtime.host_api import build_linker
from harvester.runtime.plugin import PluginInstance

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


QUICK = Profile(starts=10, compiles=1, poll_warmup=20, polls=300, extra_instances=4)


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
        self.bus = EventBus(asyncio.new_event_loop())

    def instantiate(
        self, plugin: str, component: Component, hal: PluginHal | None = None
    ) -> PluginInstance:
        log = PluginLog(plugin, self.bus)
        hal = hal or PluginHal(self.backend, GRANTS, plugin=plugin)
        return PluginInstance(
            name=plugin,
            engine=self.engine,
            component=component,
            linker=build_linker(self.engine, hal, GRANTS, log),
            limits=Limits(),
            plugin_log=log,
        )


def load(host: Host, cache: ArtifactCache, plugin: str) -> Component:
    """The plugin's precompiled artifact, memory-mapped."""
    return cache.load(host.engine, component_path(plugin), plugin=plugin)


# --- 0. build and precompile ----------------------------------------------------------------


def prepare() -> None:
    """Build every plugin the benchmark uses and precompile it, two at a time (2 cores)."""
    folders = [BME680_DIR, *(HOSTILE / name for name in OTHER_PLUGINS)]
    cache = ArtifactCache(ARTIFACTS)

    def one(folder: Path) -> str:
        started = time.perf_counter()
        built = build_plugin(folder, out_dir=BUILD_OUT, cache_dir=BUILD_CACHE)
        had_artifact = cache.artifact_path(built.output).is_file()
        cache.ensure(built.output, plugin=built.manifest.name)
        how = "cached build" if built.cached else f"built in {built.seconds:.1f} s"
        how += ", artifact cached" if had_artifact else ", precompiled"
        return f"  {built.manifest.name}: {how} ({time.perf_counter() - started:.1f} s)"

    console.print("[bold]Preparing plugins[/] (componentize-py builds and artifacts are cached)")
    with ThreadPoolExecutor(max_workers=2) as pool:
        for line in pool.map(one, folders):
            console.print(line)


# --- 1. plugin start from the cached artifact -----------------------------------------------


def time_one_start(host: Host, cache: ArtifactCache) -> dict[str, int]:
    """One start as the supervisor does it, in ns per part: load, linker, instantiate, init."""
    path = component_path("bme680")
    t0 = time.perf_counter_ns()
    component = cache.load(host.engine, path, plugin="bme680")
    t1 = time.perf_counter_ns()
    log = PluginLog("bme680", host.bus)
    linker = build_linker(
        host.engine, PluginHal(host.backend, GRANTS, plugin="bme680"), GRANTS, log
    )
    t2 = time.perf_counter_ns()
    instance = PluginInstance(
        name="bme680",
        engine=host.engine,
        component=component,
        linker=linker,
        limits=Limits(),
        plugin_log=log,
    )
    t3 = time.perf_counter_ns()
    instance.init({})
    t4 = time.perf_counter_ns()
    return {
        "deserialize": t1 - t0,
        "linker": t2 - t1,
        "instantiate": t3 - t2,
        "init": t4 - t3,
        "total": t4 - t0,
    }


def bench_start(host: Host, profile: Profile, results: Results) -> None:
    console.rule("1. Plugin start from the cached artifact")
    # A fresh cache object must hash the 18 MB component once; the host keeps that hash.
    cache = ArtifactCache(ARTIFACTS)
    first = time_one_start(host, cache)
    runs: list[dict[str, int]] = []
    for _ in range(profile.starts):
        gc.collect()  # drop the previous instance's Store outside the timed region
        runs.append(time_one_start(host, cache))
    parts = ("deserialize", "linker", "instantiate", "init", "total")
    table = Table("part", "median ms", "p95 ms", "first start ms")
    summary: dict[str, dict[str, float]] = {}
    for part in parts:
        samples = [ms(r[part]) for r in runs]
        summary[part] = {"median": statistics.median(samples), "p95": p95(samples)}
        table.add_row(
            part,
            f"{summary[part]['median']:.2f}",
            f"{summary[part]['p95']:.2f}",
            f"{ms(first[part]):.2f}",
        )
    console.print(table)
    console.print(
        f"  {profile.starts} starts of bme680: ArtifactCache.load (deserialize_file, mmap)"
        " + build_linker + PluginInstance + init({}). The first start in a process also"
        " hashes the component (sha256) to find its artifact."
    )
    total = summary["total"]
    results.add("start_median_ms", Figure("start, median", total["median"], "ms", TARGET_START_MS))
    results.add("start_p95_ms", Figure("start, p95", total["p95"], "ms", TARGET_START_MS))
    results.add("start_first_ms", Figure("start, first in process", ms(first["total"]), "ms"))
    results.details["start_parts_ms"] = summary
    results.details["start_first_ms"] = {k: ms(v) for k, v in first.items()}


# --- 2. cold compile ------------------------------------------------------------------------


def precompile_once(source: Path, target: Path) -> tuple[float, int]:
    """Run the precompile child; return (wall seconds, its peak RSS in kB).

    os.wait4 reports the rusage of this one child, unlike RUSAGE_CHILDREN, which is the
    maximum over every child so far (componentize-py builds included).
    """
    cmd = [sys.executable, "-m", "harvester.runtime.precompile", str(source), str(target)]
    # stderr goes to a file, not a pipe: nobody reads a pipe while we block in wait4.
    with tempfile.TemporaryFile() as err_file:
        started = time.perf_counter_ns()
        child = subprocess.Popen(cmd, env=child_env(), stderr=err_file)
        _, status, usage = os.wait4(child.pid, 0)
        wall = (time.perf_counter_ns() - started) / 1e9
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        err_file.seek(0)
        stderr = err_file.read().decode(errors="replace").strip()
    if child.returncode != 0 or not target.is_file():
        raise RuntimeError(f"precompile failed ({child.returncode}): {stderr}")
    return wall, usage.ru_maxrss


def bench_compile(profile: Profile, results: Results) -> None:
    console.rule("2. Cold compile (precompile child, empty cache)")
    source = component_path("bme680")
    walls: list[float] = []
    peaks: list[int] = []
    for i in range(profile.compiles):
        with tempfile.TemporaryDirectory(prefix="harvester-bench-") as tmp:
            target = Path(tmp) / "bme680.cwasm"
            wall, peak_kb = precompile_once(source, target)
            size_mb = target.stat().st_size / 2**20
        walls.append(wall)
        peaks.append(peak_kb)
        console.print(
            f"  run {i + 1}: {wall:.2f} s wall, child peak RSS {peak_kb / 1024:.0f} MB,"
            f" artifact {size_mb:.1f} MB (component {source.stat().st_size / 2**20:.1f} MB)"
        )
    own_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    console.print(
        f"  (RUSAGE_CHILDREN.ru_maxrss = {own_children / 1024:.0f} MB: the largest child of"
        " this process so far, which may be a build, so the per-child wait4 figure is used)"
    )
    results.add("compile_s", Figure("cold compile (bme680)", statistics.median(walls), "s"))
    results.add(
        "compile_peak_rss_mb", Figure("cold compile, child peak RSS", max(peaks) / 1024, "MB")
    )
    results.details["compile_walls_s"] = walls


# --- 3. poll cost, sandboxed vs native ------------------------------------------------------


@dataclass
class PollRig:
    """The three ways of doing one bme680 measurement against the same simulated device."""

    wasm: Callable[[], Any]
    native_hal: Callable[[], Any]
    native_direct: Callable[[], Any]
    bus_transactions: Callable[[], int]


def make_poll_rig(host: Host, cache: ArtifactCache) -> PollRig:
    drv = load_driver()
    instance = host.instantiate("bme680", load(host, cache, "bme680"))
    instance.init({})
    # Equal work: the same driver code, through the same host-side facade, backend and sim
    # that serve the sandboxed plugin's i2c.transfer and clock.sleep-ms imports.
    hal = PluginHal(host.backend, GRANTS, plugin="native")
    via_hal = drv.Bme680(lambda data, n: hal.i2c_transfer(BUS, ADDRESS, data, n), hal.sleep_ms)
    via_hal.begin()
    # Less work: straight at the device model, as tests/hal/sim/test_bme680.py does.
    sim: Bme680Sim = host.backend.devices[(BUS, ADDRESS)]

    def transfer(data: bytes, n: int) -> bytes:
        if data:
            sim.write(data)
        return sim.read(n) if n else b""

    direct = drv.Bme680(transfer, host.backend.clock.sleep_ms)
    direct.begin()
    bus = host.backend.buses[BUS]
    return PollRig(instance.poll, via_hal.measure, direct.measure, lambda: bus.transactions)


def sample_polls(fn: Callable[[], Any], n: int) -> list[int]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t0)
    return samples


def interleaved(rig: PollRig, profile: Profile) -> dict[str, list[int]]:
    """Per-poll times for each variant, run in alternating blocks so drift hits all alike."""
    variants = {"wasm": rig.wasm, "native_hal": rig.native_hal, "native_direct": rig.native_direct}
    for fn in variants.values():
        sample_polls(fn, profile.poll_warmup)
    samples: dict[str, list[int]] = {name: [] for name in variants}
    blocks = 10
    gc.collect()
    for _ in range(blocks):
        for name, fn in variants.items():
            samples[name] += sample_polls(fn, max(1, profile.polls // blocks))
    return samples


class CountingHal(PluginHal):
    """PluginHal that counts and times the host calls (used only in the diagnostic pass)."""

    def __init__(self, backend: SimBackend) -> None:
        super().__init__(backend, GRANTS, plugin="bme680")
        self.calls: dict[str, int] = {"i2c_transfer": 0, "sleep_ms": 0, "now_ms": 0}
        self.ns = 0

    @contextmanager
    def _timed(self, name: str) -> Iterator[None]:
        self.calls[name] += 1
        t0 = time.perf_counter_ns()
        try:
            yield
        finally:
            self.ns += time.perf_counter_ns() - t0

    def i2c_transfer(self, bus: int, address: int, data: bytes, read_len: int) -> bytes:
        with self._timed("i2c_transfer"):
            return super().i2c_transfer(bus, address, data, read_len)

    def sleep_ms(self, ms: int) -> None:
        with self._timed("sleep_ms"):
            super().sleep_ms(ms)

    def now_ms(self) -> int:
        with self._timed("now_ms"):
            return super().now_ms()


@contextmanager
def timed_guest_calls() -> Iterator[list[int]]:
    """Time spent inside wasmtime_component_func_call (guest code + its host calls).

    wasmtime-py's Func.__call__ looks the C function up on its _ffi module at each call, so
    wrapping that attribute isolates the Python-side lowering/lifting of values around it.
    """
    from wasmtime import _ffi

    original = _ffi.wasmtime_component_func_call
    spent = [0]

    def wrapper(*args: Any) -> Any:
        t0 = time.perf_counter_ns()
        try:
            return original(*args)
        finally:
            spent[0] += time.perf_counter_ns() - t0

    _ffi.wasmtime_component_func_call = wrapper
    try:
        yield spent
    finally:
        _ffi.wasmtime_component_func_call = original


def poll_breakdown(host: Host, cache: ArtifactCache, n: int) -> dict[str, float]:
    """Where a sandboxed poll's time goes, from an instrumented instance (not the headline)."""
    hal = CountingHal(host.backend)
    instance = host.instantiate("bme680", load(host, cache, "bme680"), hal)
    instance.init({})
    sample_polls(instance.poll, 20)
    hal.calls = dict.fromkeys(hal.calls, 0)
    hal.ns = 0
    with timed_guest_calls() as inside:
        total = sum(sample_polls(instance.poll, n))
        in_poll = inside[0]
        inside[0] = 0
        describe = sum(sample_polls(instance.describe, n))
        in_describe = inside[0]
    calls = {k: v / n for k, v in hal.calls.items()}
    return {
        "poll_us": us(total / n),
        "python_around_call_us": us((total - in_poll) / n),
        "guest_and_import_glue_us": us((in_poll - hal.ns) / n),
        "host_hal_and_sim_us": us(hal.ns / n),
        "describe_us": us(describe / n),
        "describe_python_around_call_us": us((describe - in_describe) / n),
        **{f"{k}_per_poll": v for k, v in calls.items()},
    }


def native_split(host: Host, n: int) -> tuple[float, float]:
    """(µs in HAL + sim, µs in total) per native measure(): what the ratio is made of."""
    drv = load_driver()
    hal = CountingHal(host.backend)
    driver = drv.Bme680(lambda data, k: hal.i2c_transfer(BUS, ADDRESS, data, k), hal.sleep_ms)
    driver.begin()
    sample_polls(driver.measure, 20)
    hal.ns = 0
    total = sum(sample_polls(driver.measure, n))
    return us(hal.ns / n), us(total / n)


def bench_poll(host: Host, profile: Profile, results: Results) -> None:
    console.rule("3. Poll cost: sandboxed vs native (SimConfig(time_scale=0))")
    cache = ArtifactCache(ARTIFACTS)
    rig = make_poll_rig(host, cache)
    wasm_readings = {r.metric: r.value for r in rig.wasm()}
    native = rig.native_hal()
    console.print(
        f"  same answers: wasm T={wasm_readings['temperature']:.2f} °C"
        f" P={wasm_readings['pressure']:.2f} hPa; native T={native.temperature_c:.2f} °C"
        f" P={native.pressure_hpa:.2f} hPa"
    )
    before = rig.bus_transactions()
    samples = interleaved(rig, profile)
    wasm_polls = profile.poll_warmup + len(samples["wasm"])
    native_polls = profile.poll_warmup + len(samples["native_hal"])
    transfers = (rig.bus_transactions() - before) / (wasm_polls + native_polls)
    med = {name: us(statistics.median(s)) for name, s in samples.items()}
    mean = {name: us(statistics.fmean(s)) for name, s in samples.items()}
    table = Table("variant", "median µs/poll", "mean µs/poll", "polls")
    labels = {
        "wasm": "sandboxed plugin poll()",
        "native_hal": "native measure() via PluginHal + SimBackend",
        "native_direct": "native measure() straight at Bme680Sim",
    }
    for name, label in labels.items():
        table.add_row(label, f"{med[name]:.1f}", f"{mean[name]:.1f}", str(len(samples[name])))
    console.print(table)
    ratio_hal = med["wasm"] / med["native_hal"]
    ratio_direct = med["wasm"] / med["native_direct"]
    console.print(
        f"  ratio (headline, equal work: native through the same facade + sim) = {ratio_hal:.2f}×"
        f"\n  ratio vs native straight at the device model = {ratio_direct:.2f}×"
        f"\n  i2c transfers per measurement (bus counter, wasm and native alike) = {transfers:.2f}"
    )
    breakdown = poll_breakdown(host, cache, max(100, profile.polls // 4))
    sim_us, native_us = native_split(host, max(100, profile.polls // 4))
    driver_only = native_us - sim_us
    console.print(
        "  instrumented pass (host calls counted and timed; not the headline):"
        f"\n    host calls per poll: i2c.transfer {breakdown['i2c_transfer_per_poll']:.1f},"
        f" clock.sleep-ms {breakdown['sleep_ms_per_poll']:.1f},"
        f" clock.now-ms {breakdown['now_ms_per_poll']:.1f}"
        f"\n    sandboxed poll {breakdown['poll_us']:.0f} µs ="
        f" HAL + sim {breakdown['host_hal_and_sim_us']:.0f}"
        f" + guest code and import glue {breakdown['guest_and_import_glue_us']:.0f}"
        f" + wasmtime-py lowering/lifting around the call"
        f" {breakdown['python_around_call_us']:.0f}"
        f"\n    native measure() {native_us:.0f} µs = HAL + sim {sim_us:.0f}"
        f" + driver code {driver_only:.0f}"
        f"\n    describe() (no host calls; returns 4 records) {breakdown['describe_us']:.0f} µs,"
        f" of which lifting the result in Python"
        f" {breakdown['describe_python_around_call_us']:.0f} µs"
    )
    results.add("poll_wasm_us", Figure("poll, sandboxed", med["wasm"], "µs"))
    results.add("poll_native_hal_us", Figure("poll, native via HAL", med["native_hal"], "µs"))
    results.add(
        "poll_native_direct_us", Figure("poll, native at device", med["native_direct"], "µs")
    )
    results.add("poll_ratio", Figure("poll ratio (headline)", ratio_hal, "×", TARGET_POLL_RATIO))
    results.add("poll_ratio_direct", Figure("poll ratio vs direct", ratio_direct, "×"))
    results.add("i2c_per_poll", Figure("i2c transfers per poll", transfers, ""))
    results.details["poll_breakdown_us"] = breakdown
    results.details["poll_native_split_us"] = {"hal_and_sim": sim_us, "driver": driver_only}
    results.details["poll_mean_us"] = mean


# --- 4. memory, in fresh child processes ----------------------------------------------------


def start_plugin(host: Host, component: Component, plugin: str) -> PluginInstance:
    """Instantiate, init and poll once: a plugin that has started running."""
    instance = host.instantiate(plugin, component)
    instance.init({})
    try:
        instance.poll()
    except (PluginFault, PluginReportedError):
        pass  # the hostile ones fail their poll by design; their memory is what we want
    return instance


def child_main(mode: str, count: int) -> None:
    """Runs in a fresh process: print one JSON line of memory samples (kB)."""
    engine = make_engine()
    host = Host(engine, SimBackend(SIM))
    cache = ArtifactCache(ARTIFACTS)
    kept: list[PluginInstance] = []  # keep every instance alive while we measure
    samples: list[dict[str, Any]] = []
    with EpochTicker(engine):
        samples.append({"step": "baseline: harvester imported, engine made", **rss_kb()})
        if mode == "distinct":
            for plugin in PLUGINS:
                kept.append(start_plugin(host, load(host, cache, plugin), plugin))
                samples.append({"step": plugin, **rss_kb()})
        else:
            # One Component, as the supervisor keeps per plugin; a Store per instance.
            component = load(host, cache, "bme680")
            kept.append(start_plugin(host, component, "bme680"))
            samples.append({"step": "bme680, first instance", **rss_kb()})
            for i in range(count):
                kept.append(start_plugin(host, component, "bme680"))
                samples.append({"step": f"bme680, extra instance {i + 1}", **rss_kb()})
    print(json.dumps(samples))


def run_child(mode: str, count: int) -> list[dict[str, Any]]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--count", str(count)]
    done = subprocess.run(cmd, env=child_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child {mode} failed: {done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def mb(kb: float) -> str:
    return f"{kb / 1024:.1f}"


def rss_table(title: str, samples: list[dict[str, Any]]) -> Table:
    table = Table("step", "VmRSS MB", "Δ MB", "RssAnon", "RssFile", "PSS MB", "Δ PSS", title=title)
    previous = samples[0]
    for s in samples:
        table.add_row(
            s["step"],
            mb(s["VmRSS"]),
            f"{(s['VmRSS'] - previous['VmRSS']) / 1024:+.1f}",
            mb(s["RssAnon"]),
            mb(s["RssFile"]),
            mb(s.get("Pss", 0)),
            f"{(s.get('Pss', 0) - previous.get('Pss', 0)) / 1024:+.1f}",
        )
        previous = s
    return table


def mean_step_mb(samples: list[dict[str, Any]], key: str) -> float:
    """Mean growth per step, in MB, from the first sample to the last."""
    return (samples[-1].get(key, 0) - samples[0].get(key, 0)) / 1024 / (len(samples) - 1)


def bench_memory(profile: Profile, results: Results) -> None:
    console.rule("4. Memory per plugin (fresh child processes, /proc/self)")
    distinct = run_child("distinct", len(PLUGINS))
    console.print(rss_table("distinct plugins: load + instantiate + init + 1 poll", distinct))
    extra = run_child("instances", profile.extra_instances)
    console.print(rss_table("extra instances of one bme680 Component (own Store each)", extra))
    per_plugin = mean_step_mb(distinct, "VmRSS")  # = mean of the per-plugin deltas
    later_plugins = mean_step_mb(distinct[1:], "VmRSS")
    # extra[1] is the first instance: the extra ones are measured from there on.
    per_instance = {key: mean_step_mb(extra[1:], key) for key in ("VmRSS", "RssAnon", "Pss")}
    console.print(
        f"  VmRSS per distinct plugin (mean of {len(distinct) - 1} deltas) = {per_plugin:.1f} MB;"
        f" leaving out the first, which carries one-time costs = {later_plugins:.1f} MB;"
        f" PSS per distinct plugin = {mean_step_mb(distinct, 'Pss'):.1f} MB"
        f"\n  VmRSS per extra instance = {per_instance['VmRSS']:.1f} MB"
        f" (anonymous {per_instance['RssAnon']:.1f} MB); PSS per extra instance ="
        f" {per_instance['Pss']:.1f} MB"
    )
    results.add(
        "mb_per_plugin", Figure("RSS per distinct plugin", per_plugin, "MB", TARGET_MB_PER_PLUGIN)
    )
    results.add(
        "mb_per_instance",
        Figure("RSS per extra instance", per_instance["VmRSS"], "MB", TARGET_MB_PER_INSTANCE),
    )
    results.add(
        "pss_mb_per_plugin",
        Figure("PSS per distinct plugin", mean_step_mb(distinct, "Pss"), "MB"),
    )
    results.add("pss_mb_per_instance", Figure("PSS per extra instance", per_instance["Pss"], "MB"))
    results.details["mem_distinct_kb"] = distinct
    results.details["mem_instances_kb"] = extra


# --- summary --------------------------------------------------------------------------------


def print_summary(results: Results) -> None:
    console.rule("Summary")
    table = Table("figure", "value", "target", "verdict")
    for fig in results.figures.values():
        target = "-" if fig.target is None else f"≤ {fig.target:g} {fig.unit}"
        style = {"PASS": "green", "MISS": "red"}.get(fig.verdict, "")
        verdict = f"[{style}]{fig.verdict}[/]" if style else fig.verdict
        table.add_row(fig.label, f"{fig.value:.2f} {fig.unit}".strip(), target, verdict)
    console.print(table)


def write_json(path: Path, results: Results, profile: Profile, seconds: float) -> None:
    doc = {
        "figures": {
            key: {**asdict(fig), "verdict": fig.verdict} for key, fig in results.figures.items()
        },
        "details": results.details,
        "profile": asdict(profile),
        "wasmtime": version("wasmtime"),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "seconds": seconds,
        "load_average_1min": os.getloadavg()[0],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
    console.print(f"figures written to {path}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write figures as JSON")
    # Hidden: the memory figures are measured in fresh children running this script.
    parser.add_argument("--child", choices=("distinct", "instances"), help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    # Hostile plugins are refused by design; their warnings are not benchmark output.
    logging.getLogger("harvester").setLevel(logging.ERROR)
    if args.child:
        child_main(args.child, args.count)
        return 0
    started = time.perf_counter()
    if HARVESTER_ROOT != ROOT:
        # e.g. a git worktree whose venv has an editable install of the main checkout
        console.print(
            f"[yellow]note: benchmarking the harvester in {HARVESTER_ROOT}, not {ROOT};"
            " run with PYTHONPATH=. to benchmark this checkout[/]"
        )
    profile = QUICK if args.quick else Profile()
    prepare()
    load_before = machine_load()
    results = Results()
    engine = make_engine()
    host = Host(engine, SimBackend(SIM))
    with EpochTicker(engine):  # calls into wasm have epoch deadlines
        bench_start(host, profile, results)
        bench_compile(profile, results)
        bench_poll(host, profile, results)
    bench_memory(profile, results)
    print_summary(results)
    seconds = time.perf_counter() - started
    load_after = machine_load()
    console.print(
        f"benchmark took {seconds:.0f} s on {os.cpu_count()} CPUs;"
        f" 1-min load average {load_before:.2f} before, {load_after:.2f} after"
    )
    if max(load_before, load_after) > 0.5 * (os.cpu_count() or 1):
        console.print(
            "[yellow]the machine was busy with other work: timings (compile above all) are"
            " inflated; rerun on a quiet machine for figures to compare[/]"
        )
    if args.json:
        write_json(args.json, results, profile, seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
