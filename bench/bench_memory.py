"""Section 4: memory per distinct plugin and per extra instance, in fresh child processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench_common import (
    ARTIFACTS,
    PLUGINS,
    SIM,
    TARGET_MB_PER_INSTANCE,
    TARGET_MB_PER_PLUGIN,
    Figure,
    Host,
    Profile,
    Results,
    child_env,
    console,
    load,
    rss_kb,
)
from rich.table import Table
from wasmtime.component import Component

from harvester.hal.sim.backend import SimBackend
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.engine import EpochTicker, make_engine
from harvester.runtime.errors import PluginFault, PluginReportedError
from harvester.runtime.sensor import SensorExport

# --- 4. memory, in fresh child processes ----------------------------------------------------


def start_plugin(host: Host, component: Component, plugin: str) -> SensorExport:
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
    kept: list[SensorExport] = []  # keep every instance alive while we measure
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


# The memory figures come from fresh processes running the benchmark's entry point.
RUNNER = Path(__file__).resolve().with_name("runtime_bench.py")


def run_child(mode: str, count: int) -> list[dict[str, Any]]:
    cmd = [sys.executable, str(RUNNER), "--child", mode, "--count", str(count)]
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
