"""Section 5: memory growth over many calls, on the fast path and on wasmtime-py's own.

    python bench/bench_soak.py [--polls N]     # this section alone (builds what it needs)
    python bench/bench_soak.py --probe [--polls N]   # which guest calls grow its memory

Each path runs in a fresh child process (this script with --child PATH): one bme680
instance against the sim backend with time_scale 0, 2,000 warm-up calls, then N calls of
`poll` (two kinds of host call, ~20 per poll) and N of `describe` (no host calls: guest code
and result lifting only), sampling every 10,000 calls:

- VmRSS and RssAnon from /proc/self/status;
- glibc's malloc in use (mallinfo2: every native heap allocation, wasmtime's included, and
  Python objects too big for pymalloc);
- pymalloc's allocated blocks (`sys.getallocatedblocks`: Python objects kept alive);
- the guest's linear memory, from /proc/self/smaps: wasmtime reserves each linear memory as
  one run of mappings with a >= 1 GiB inaccessible tail; its readable part is the memory's
  current size and its Rss what of it is resident.

Figures are least-squares slopes in bytes per call (per 10,000 calls in the table). A last
pass with tracemalloc on (it slows calls and uses memory itself, so it is kept apart) gives
the Python heap's growth per call and the source lines it grows at.

--probe looks for where the guest's own growth comes from: small plugins whose poll does
no host call, one gpio read-dht22, or one i2c transfer, linked to host functions that
answer fixed values (0, 16 or 256 bytes, or an error), each measured by its linear memory.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import re
import statistics
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import wasmtime
from bench_common import (
    ARTIFACTS,
    BUILD_CACHE,
    BUILD_OUT,
    HOSTILE,
    ROOT,
    SIM,
    Figure,
    Host,
    Profile,
    Results,
    child_env,
    component_path,
    console,
    load,
    prepare,
    rss_kb,
)
from rich.table import Table
from wasmtime.component import Linker, Variant

from harvester.build.prepare import prepare_plugins
from harvester.constants import IFACE_CLOCK, IFACE_GPIO, IFACE_I2C, IFACE_LOG, IFACE_SENSOR
from harvester.hal.sim.backend import SimBackend
from harvester.runtime import fastcall
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.engine import EpochTicker, make_engine
from harvester.runtime.fastcall import FastFunc, add_func
from harvester.runtime.host_api import record

WARMUP = 2_000
SAMPLE_EVERY = 10_000
PATHS = ("fast", "fallback")
WORKLOADS = ("poll", "describe")
# Sampled values and their units; slopes are per call, in the same unit.
MEASURES = {
    "VmRSS": "VmRSS",
    "RssAnon": "RssAnon",
    "wasm_anon": "= guest anon",
    "other_anon": "+ other anon",
    "wasm_rss": "guest Rss",
    "malloc": "malloc used",
    "malloc_os": "malloc held",
    "py_blocks": "py blocks",
}

# --- sampling, in the child --------------------------------------------------------------


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def _mallinfo2() -> Callable[[], _Mallinfo2] | None:
    """glibc's malloc statistics over all arenas (mallinfo2, glibc >= 2.33), if available."""
    try:
        fn = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = _Mallinfo2
    return fn  # type: ignore[no-any-return]


_MALLINFO = _mallinfo2()
_VMA = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ")


def anon_breakdown() -> dict[str, int]:
    """The wasm linear memories in this process, and anonymous memory outside them (bytes).

    wasmtime reserves each linear memory as one range: a guard, the accessible part (as
    several mappings), then an inaccessible (---p) tail of >= 1 GiB. So the read-write
    mappings right below such a tail are the memory: their size is its current size
    (`wasm_size`), resident as `wasm_rss`. The initial heap image is
    a copy-on-write mapping of the artifact file inside it: a page the guest writes to for
    the first time turns from file-backed into anonymous, so `wasm_anon` can grow while
    `wasm_rss` does not (and RssAnon grows while VmRSS does not).
    """
    vmas: list[dict[str, Any]] = []
    for line in Path("/proc/self/smaps").read_text().splitlines():
        m = _VMA.match(line)
        if m:
            start, end = int(m[1], 16), int(m[2], 16)
            vmas.append({"start": start, "end": end, "perm": m[3], "Rss": 0, "Anonymous": 0})
        elif vmas and line.startswith(("Rss:", "Anonymous:")):
            key, value = line.split()[:2]
            vmas[-1][key.rstrip(":")] = int(value) * 1024
    out = dict.fromkeys(("wasm_memories", "wasm_size", "wasm_rss", "wasm_anon"), 0)
    in_wasm: set[int] = set()
    for i, tail in enumerate(vmas):
        if tail["perm"] != "---p" or tail["end"] - tail["start"] < 2**30:
            continue
        # The memory: the readable mappings right below its reservation's tail.
        j = i - 1
        while (
            j >= 0 and vmas[j]["perm"].startswith("rw") and vmas[j]["end"] == vmas[j + 1]["start"]
        ):
            in_wasm.add(j)
            j -= 1
        if j < i - 1:
            out["wasm_memories"] += 1
    for j in in_wasm:
        out["wasm_size"] += vmas[j]["end"] - vmas[j]["start"]
        out["wasm_rss"] += vmas[j]["Rss"]
        out["wasm_anon"] += vmas[j]["Anonymous"]
    out["other_anon"] = sum(v["Anonymous"] for j, v in enumerate(vmas) if j not in in_wasm)
    return out


def sample(calls: int) -> dict[str, int]:
    """One sample, after a full collection (garbage is not growth)."""
    gc.collect()
    kb = rss_kb()
    info = _MALLINFO() if _MALLINFO else None
    return {
        "calls": calls,
        "VmRSS": kb["VmRSS"] * 1024,
        "RssAnon": kb["RssAnon"] * 1024,
        # malloc: handed out and not freed; from the OS: what its arenas hold (incl. free)
        "malloc": int(info.uordblks + info.hblkhd) if info else 0,
        "malloc_os": int(info.arena + info.hblkhd) if info else 0,
        "py_blocks": sys.getallocatedblocks(),
        **anon_breakdown(),
    }


def soak(fn: Callable[[], Any], calls: int) -> list[dict[str, int]]:
    every = min(SAMPLE_EVERY, max(1, calls // 5))
    sample(0)  # discarded: the first reading of smaps leaves ~1 MB of heap resident
    samples = [sample(0)]
    for block in range(1, calls // every + 1):
        for _ in range(every):
            fn()
        samples.append(sample(block * every))
    return samples


def traced(fn: Callable[[], Any], calls: int) -> dict[str, Any]:
    """Python heap growth per call under tracemalloc, and the lines that grew most."""
    gc.collect()
    tracemalloc.start(1)
    try:
        for _ in range(min(200, calls)):  # tracemalloc's own tables settle first
            fn()
        gc.collect()
        before = tracemalloc.take_snapshot()
        for _ in range(calls):
            fn()
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    diff = after.filter_traces(ignore).compare_to(before.filter_traces(ignore), "lineno")
    grown = [d for d in diff if d.size_diff > 0]
    return {
        "calls": calls,
        "bytes_per_call": sum(d.size_diff for d in diff) / calls,
        "top": [
            {"where": str(d.traceback[0]), "bytes": d.size_diff, "blocks": d.count_diff}
            for d in sorted(grown, key=lambda d: d.size_diff, reverse=True)[:4]
        ],
    }


def child_main(path: str, calls: int) -> None:
    """Runs in a fresh process: print one JSON line with this path's samples."""
    fastcall.use_fast_path(path == "fast")
    engine = make_engine()
    host = Host(engine, SimBackend(SIM))
    with EpochTicker(engine):
        instance = host.instantiate("bme680", load(host, ArtifactCache(ARTIFACTS), "bme680"))
        instance.init({})
        workloads = {"poll": instance.poll, "describe": instance.describe}
        out: dict[str, Any] = {"path": path, "reason": fastcall.REASON, "samples": {}}
        for name, fn in workloads.items():
            for _ in range(WARMUP):
                fn()
            out["samples"][name] = soak(fn, calls)
        out["tracemalloc"] = {
            name: traced(fn, max(1_000, calls // 5)) for name, fn in workloads.items()
        }
    print(json.dumps(out))


# --- the probe: which guest calls grow the guest's memory ---------------------------------

# (plugin, its settings, what the host's transfer answers, what one poll does)
PROBES: list[tuple[str, dict[str, str], Any, str]] = [
    ("read-env", {}, b"", "no host call"),
    ("dht22", {}, b"", "1 read-dht22 (record back)"),
    ("transfer-probe", {"calls": "0"}, b"", "no transfer"),
    ("transfer-probe", {"calls": "1", "out": "1"}, b"", "1 transfer, 1 B out"),
    ("transfer-probe", {"calls": "4", "out": "1"}, b"", "4 transfers, 1 B out"),
    ("transfer-probe", {"calls": "1", "out": "0"}, b"", "1 transfer, 0 B out"),
    ("transfer-probe", {"calls": "1", "out": "256"}, b"", "1 transfer, 256 B out"),
    ("transfer-probe", {"calls": "1", "back": "256"}, bytes(256), "1 transfer, 256 B back"),
    ("transfer-probe", {"calls": "1"}, Variant("bus"), "1 transfer, error back"),
]
PROBE_PLUGINS = {
    "read-env": HOSTILE / "read-env",
    "dht22": ROOT / "plugins" / "dht22",
    "transfer-probe": Path(__file__).resolve().parent / "probe-plugins" / "transfer-probe",
}


def probe_poll(
    engine: wasmtime.Engine,
    plugin: str,
    settings: dict[str, str],
    answer: Any,
    *,
    deadline_every_call: bool = False,
) -> Callable[[], Any]:
    """`poll` of a fresh instance of `plugin` whose every host function answers fixed values
    (no HAL, no grants: only the call's own cost is left). With `deadline_every_call` the
    store's epoch deadline is set before each call, as PluginInstance does."""
    linker = Linker(engine)
    linker.add_wasip2()
    with linker.root() as root:
        with root.add_instance(IFACE_LOG) as inst:
            add_func(inst, "log", lambda store, level, message: None)
        with root.add_instance(IFACE_CLOCK) as inst:
            add_func(inst, "now-ms", lambda store: 0)
            add_func(inst, "sleep-ms", lambda store, ms: None)
        with root.add_instance(IFACE_I2C) as inst:
            add_func(inst, "transfer", lambda store, bus, address, data, n: answer)
        with root.add_instance(IFACE_GPIO) as inst:
            reading = record(temperature_c=21.5, humidity_rh=40.0)
            add_func(inst, "read-dht22", lambda store, pin: reading)
            add_func(inst, "read-pin", lambda store, pin: True)
            add_func(inst, "write-pin", lambda store, pin, high: None)
    store = wasmtime.Store(engine)
    store.set_wasi(wasmtime.WasiConfig())
    store.set_epoch_deadline(1_000_000)  # ~3 hours of 10 ms ticks: never, here
    component = ArtifactCache(ARTIFACTS).load(engine, component_path(plugin), plugin=plugin)
    instance = linker.instantiate(store, component)
    iface = instance.get_export_index(store, IFACE_SENSOR)

    def export(name: str) -> FastFunc:
        func = instance.get_func(store, instance.get_export_index(store, name, iface))
        if func is None:
            raise RuntimeError(f"{plugin} does not export {name}")
        return FastFunc(func, store)

    init, poll = export("init"), export("poll")
    if init(store, [record(key=k, value=v) for k, v in settings.items()]) is not None:
        raise RuntimeError(f"{plugin} refused its settings {settings}")
    init.post_return(store)

    def call() -> Any:
        if deadline_every_call:
            store.set_epoch_deadline(1_000_000)
        result = poll(store)
        poll.post_return(store)
        return result

    return call


def probe_child(calls: int) -> None:
    """Runs in a fresh process: print one JSON line, growth per poll for each probe."""
    engine = make_engine()
    out = []
    with EpochTicker(engine):
        for plugin, settings, answer, does in PROBES:
            poll = probe_poll(engine, plugin, settings, answer)
            for _ in range(WARMUP):
                poll()
            samples = soak(poll, calls)
            growth = {key: slope(samples, key) for key in (*MEASURES, "wasm_size")}
            out.append({"plugin": plugin, "does": does, "samples": samples, **growth})
    print(json.dumps(out))


def probe(calls: int) -> None:
    console.rule(f"Where the guest's memory grows: {calls:,} polls per probe (fast path)")
    prepare_plugins(
        list(PROBE_PLUGINS.values()),
        out_dir=BUILD_OUT,
        build_cache=BUILD_CACHE,
        artifacts=ArtifactCache(ARTIFACTS),
        report=console.print,
    )
    cmd = [sys.executable, str(RUNNER), "--child", "probe", "--polls", str(calls)]
    done = subprocess.run(cmd, env=child_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"probe child failed: {done.stderr.strip()}")
    table = Table(
        "plugin",
        "one poll does",
        "guest anon",
        "guest size",
        "other anon",
        "malloc used",
        title="growth per poll, bytes (least squares)",
    )
    for row in json.loads(done.stdout.strip().splitlines()[-1]):
        keys = ("wasm_anon", "wasm_size", "other_anon", "malloc")
        table.add_row(row["plugin"], row["does"], *(f"{row[key]:+.1f}" for key in keys))
    console.print(table)


# --- the section, in the parent --------------------------------------------------------------

RUNNER = Path(__file__).resolve()


def run_child(path: str, calls: int) -> dict[str, Any]:
    cmd = [sys.executable, str(RUNNER), "--child", path, "--polls", str(calls)]
    done = subprocess.run(cmd, env=child_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"soak child {path} failed: {done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def slope(samples: list[dict[str, int]], key: str) -> float:
    """Least-squares growth of `key` per call over the samples."""
    xs = [s["calls"] for s in samples]
    ys = [s[key] for s in samples]
    if len(set(xs)) < 2:
        return 0.0
    return statistics.linear_regression(xs, ys).slope


def slopes(child: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {
        name: {key: slope(samples, key) for key in MEASURES}
        for name, samples in child["samples"].items()
    }


def bench_soak(profile: Profile, results: Results, calls: int | None = None) -> None:
    calls = profile.soak_polls if calls is None else calls
    console.rule(
        f"5. Soak: memory growth per call over {calls:,} calls, fast path vs wasmtime-py's"
    )
    children = {path: run_child(path, calls) for path in PATHS}
    found = {path: slopes(child) for path, child in children.items()}
    table = Table(
        "path",
        "call",
        *MEASURES.values(),
        "py heap",
        title="growth per call in bytes (py blocks: pymalloc blocks; py heap: tracemalloc),"
        " least squares over samples every"
        f" {min(SAMPLE_EVERY, max(1, calls // 5)):,} calls",
    )
    for path, child in children.items():
        for name in WORKLOADS:
            s = found[path][name]
            table.add_row(
                path,
                name,
                *(f"{s[key]:+.1f}" for key in MEASURES),
                f"{child['tracemalloc'][name]['bytes_per_call']:+.1f}",
            )
    console.print(table)
    for path, child in children.items():
        console.print(f"  {path}: {child['reason']}")
        for name in WORKLOADS:
            first, last = child["samples"][name][0], child["samples"][name][-1]
            k10 = {k: v * 10_000 / 1024 for k, v in found[path][name].items()}
            console.print(
                f"    {name}: VmRSS {first['VmRSS'] / 2**20:.1f} → {last['VmRSS'] / 2**20:.1f} MB;"
                f" per 10,000 calls VmRSS {k10['VmRSS']:+.0f} kB, RssAnon {k10['RssAnon']:+.0f} kB"
                f" (guest memory {k10['wasm_anon']:+.0f}, other {k10['other_anon']:+.0f}),"
                f" malloc in use {k10['malloc']:+.0f} kB; guest memory size"
                f" {first['wasm_size'] / 2**20:.2f} → {last['wasm_size'] / 2**20:.2f} MB"
                f" (linear memories: {last['wasm_memories']})"
            )
            top = child["tracemalloc"][name]["top"]
            for t in top[:3]:
                per = t["bytes"] / child["tracemalloc"][name]["calls"]
                console.print(f"      tracemalloc +{per:.2f} B/call at {t['where']}")
    for path in PATHS:
        for name in WORKLOADS:
            results.add(
                f"soak_{name}_{path}_rss_b",
                Figure(f"RSS growth per {name}, {path}", found[path][name]["VmRSS"], "B"),
            )
    results.details["soak"] = {path: {"slopes": found[path], **children[path]} for path in PATHS}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--polls", type=int, default=Profile().soak_polls, help="calls per run")
    parser.add_argument("--probe", action="store_true", help="find which guest calls grow")
    parser.add_argument("--child", choices=(*PATHS, "probe"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "probe":
        probe_child(args.polls)
        return 0
    if args.child:
        child_main(args.child, args.polls)
        return 0
    if args.probe:
        probe(args.polls)
        return 0
    prepare()
    bench_soak(Profile(), Results(), args.polls)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
