"""Sections 1 and 2: plugin start from the cached artifact, and a cold compile."""

from __future__ import annotations

import gc
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import (
    ARTIFACTS,
    GRANTS,
    TARGET_START_MS,
    Figure,
    Host,
    Profile,
    Results,
    child_env,
    component_path,
    console,
    ms,
    p95,
)
from rich.table import Table

from harvester.config import Limits
from harvester.hal import PluginHal
from harvester.node.plugin_log import PluginLog
from harvester.node.runner import DRIVABLE
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.loader import load_component
from harvester.runtime.plugin import PluginInstance
from harvester.runtime.sensor import SensorExport

# --- 1. plugin start from the cached artifact -----------------------------------------------


def time_one_start(host: Host, cache: ArtifactCache) -> dict[str, int]:
    """One start as the runner does it, in ns per part: load, linker + instantiate, the export
    lookup, init."""
    path = component_path("bme680")
    t0 = time.perf_counter_ns()
    loaded = load_component(
        host.engine, cache, path, plugin="bme680", grants=GRANTS, drivable=DRIVABLE
    )
    t1 = time.perf_counter_ns()
    log = PluginLog("bme680", host.bus)
    instance = PluginInstance(
        name="bme680",
        engine=host.engine,
        component=loaded.component,
        hal=PluginHal(host.backend, GRANTS),
        grants=GRANTS,
        limits=Limits(),
        guest_log=log,
        imports=loaded.imports,
    )
    t2 = time.perf_counter_ns()
    sensor = instance.export(SensorExport)
    assert sensor is not None
    t3 = time.perf_counter_ns()
    sensor.init({})
    t4 = time.perf_counter_ns()
    return {
        "load": t1 - t0,
        "linker + instantiate": t2 - t1,
        "exports": t3 - t2,
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
    parts = ("load", "linker + instantiate", "exports", "init", "total")
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
        f"  {profile.starts} starts of bme680, as a runner makes them: load_component"
        " (ArtifactCache.load: deserialize_file, mmap; then the import and export checks)"
        " + PluginInstance (its linker, WASI replacements included, and instantiation)"
        " + the sensor export's lookup + init({}). The first start in a process also looks"
        " up the component's sha256 (remembered on disk; hashed only when the file is new),"
        " checks the artifact's checksum and warms caches."
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
