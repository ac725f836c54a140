"""Where the soak's memory growth comes from: bytes per poll, scenario by scenario.

    python bench/bench_growth.py [--polls N] [--runs R]

Each run is a fresh child process (this script with --child) that measures every scenario
below on a fresh instance: 1,000 warm-up polls, then N polls (default 20,000), sampled
every N/10 after a full collection, and prints one JSON line. The parent prints, per
scenario, the least-squares growth per poll of each measure minus the same run's empty
call (scenario `empty`), as the median over the runs with their spread (min..max).

Measures (bench_soak.sample): the guest's linear memory (`guest anon`: its pages written
so far; `guest size`: its current size, which moves only on `memory.grow`), anonymous
memory outside it (`other anon`), glibc's malloc in use (wasmtime and ctypes allocations,
big Python objects), pymalloc blocks (`py blocks`: Python objects kept alive) and VmRSS.

Scenarios (bench/probe-plugins/transfer-probe unless said otherwise):
- `empty`: a poll that makes no host call, through a bare linker whose host functions
  answer fixed values (no HAL, no grants, the epoch deadline set once);
- `now xK`: K `clock.now-ms` calls per poll (a host call with no arguments);
- `out N B`: one `i2c.transfer` per poll sending N bytes (a `list<u8>` argument);
- `back N B`: one transfer sending 1 byte and getting N bytes back (a `list<u8>` result);
- `log N B`: one `log.log` per poll with an N-character message (a `string` argument);
- `deadline/call`: `empty` with `Store.set_epoch_deadline` before every call;
- `thread`: `empty`, each call handed to the instance's worker thread
  (`runtime.worker.InstanceThread.run`, as the node's runner calls);
- `runner path`: the probe through `PluginInstance` + `SensorExport` (deadline, the
  project's host_api, PluginHal, the sim backend), no host call per poll;
- `runner, out 1 B`: the same with one real transfer of 1 byte per poll;
- `bme680`: the real bme680 plugin on the runner path (the soak's subject).

After the runs, one more child runs `bme680` under tracemalloc (10,000 polls) and prints
the Python heap's growth per poll and the lines it grew at.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import wasmtime
from bench_common import (
    ARTIFACTS,
    BUILD_CACHE,
    BUILD_OUT,
    ROOT,
    SIM,
    Host,
    child_env,
    console,
    load,
)
from bench_soak import probe_poll, sample, slope, traced
from rich.table import Table

from harvester.build.prepare import prepare_plugins
from harvester.hal.sim.backend import SimBackend
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.engine import EpochTicker, make_engine
from harvester.runtime.worker import InstanceThread

PROBE = Path(__file__).resolve().parent / "probe-plugins" / "transfer-probe"
WARMUP = 1_000
KEYS = ("wasm_anon", "wasm_size", "other_anon", "malloc", "py_blocks", "VmRSS")
HEADINGS = ("guest anon", "guest size", "other anon", "malloc used", "py blocks", "VmRSS")


def dlmalloc_chunk(n: int) -> int:
    """What wasi-libc's dlmalloc (wasm32: 4-byte header, 16-byte alignment, 16-byte minimum)
    takes from the heap for malloc(n): the size a leaked n-byte allocation grows it by."""
    return max(16, (n + 4 + 15) // 16 * 16)


# --- instances --------------------------------------------------------------------------------


def bare_probe(
    engine: wasmtime.Engine, settings: dict[str, str], *, back: bytes = b"", every_call: bool
) -> Callable[[], Any]:
    """The transfer probe's `poll` on a linker whose host functions answer fixed values."""
    return probe_poll(engine, "transfer-probe", settings, back, deadline_every_call=every_call)


def through_thread(fn: Callable[[], Any]) -> Callable[[], Any]:
    """`fn`, each call handed to a worker thread and awaited, as the node's runner does."""
    loop = asyncio.new_event_loop()
    thread = InstanceThread("growth")

    def call() -> Any:
        return loop.run_until_complete(
            thread.run(
                fn,
                deadline_s=5.0,
                grace_s=1.0,
                blocked_in=lambda: None,
                on_abandon=lambda: None,
            )
        )

    return call


def runner_path(host: Host, plugin: str, settings: dict[str, str]) -> Callable[[], Any]:
    sensor = host.instantiate(plugin, load(host, ArtifactCache(ARTIFACTS), plugin))
    sensor.init(dict(settings))
    return sensor.poll


def scenarios(engine: wasmtime.Engine, host: Host) -> dict[str, Callable[[], Callable[[], Any]]]:
    """name -> a maker of the poll to measure (made when measured, so one instance lives at
    a time beside the ones already measured)."""
    none = {"calls": "0"}

    def bare(settings: dict[str, str], back: bytes = b"") -> Callable[[], Callable[[], Any]]:
        return partial(bare_probe, engine, settings, back=back, every_call=False)

    made = {
        "empty": bare(none),
        "now x1": bare({**none, "now": "1"}),
        "now x10": bare({**none, "now": "10"}),
    }
    for n in (0, 1, 16, 64, 256, 1024):
        made[f"out {n} B"] = bare({"calls": "1", "out": str(n)})
    made["out 1 B x4"] = bare({"calls": "4", "out": "1"})
    for n in (1, 256):
        made[f"back {n} B"] = bare({"calls": "1", "out": "1", "back": str(n)}, bytes(n))
    for n in (16, 1024):
        made[f"log {n} B"] = bare({**none, "log": str(n)})
    made["deadline/call"] = partial(bare_probe, engine, none, every_call=True)
    made["thread"] = lambda: through_thread(bare(none)())
    made["runner path"] = partial(runner_path, host, "transfer-probe", none)
    made["runner, out 1 B"] = partial(
        runner_path, host, "transfer-probe", {"calls": "1", "out": "1"}
    )
    made["bme680"] = partial(runner_path, host, "bme680", {})
    return made


# --- the child --------------------------------------------------------------------------------


def measure(fn: Callable[[], Any], polls: int) -> dict[str, float]:
    for _ in range(WARMUP):
        fn()
    every = max(1, polls // 10)
    sample(0)  # discarded: the first reading of smaps leaves heap resident
    samples = [sample(0)]
    for block in range(1, polls // every + 1):
        for _ in range(every):
            fn()
        samples.append(sample(block * every))
    return {key: slope(samples, key) for key in KEYS}


def child(polls: int) -> None:
    engine = make_engine()
    host = Host(engine, SimBackend(SIM))
    out: dict[str, dict[str, float]] = {}
    with EpochTicker(engine):
        for name, make in scenarios(engine, host).items():
            out[name] = measure(make(), polls)
    print(json.dumps(out))


def traced_child(polls: int) -> None:
    engine = make_engine()
    host = Host(engine, SimBackend(SIM))
    with EpochTicker(engine):
        poll = runner_path(host, "bme680", {})
        for _ in range(WARMUP):
            poll()
        print(json.dumps(traced(poll, polls)))


# --- the parent -------------------------------------------------------------------------------

RUNNER = Path(__file__).resolve()


def run_child(*args: str) -> Any:
    cmd = [sys.executable, str(RUNNER), *args]
    done = subprocess.run(cmd, env=child_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"growth child failed: {done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(runs: list[dict[str, dict[str, float]]], polls: int) -> dict[str, Any]:
    table = Table(
        "scenario",
        *HEADINGS,
        "dlmalloc chunk",
        title=f"growth per poll in bytes minus `empty` (py blocks: count), {len(runs)} runs of"
        f" {polls:,} polls: median [min..max]",
    )
    summary: dict[str, Any] = {}
    for name in runs[0]:
        cells = []
        summary[name] = {}
        for key in KEYS:
            values = [run[name][key] - run["empty"][key] for run in runs]
            if name == "empty":
                values = [run[name][key] for run in runs]
            median = statistics.median(values)
            summary[name][key] = {"median": median, "min": min(values), "max": max(values)}
            cells.append(f"{median:+.1f} [{min(values):+.0f}..{max(values):+.0f}]")
        chunk = ""
        if name.startswith("out ") and name.endswith(" B") and name != "out 0 B":
            chunk = str(dlmalloc_chunk(int(name.split()[1])))
        table.add_row(name, *cells, chunk)
    console.print(table)
    console.print(
        "  `empty` shows its own growth (not a difference). dlmalloc chunk: what one leaked"
        " malloc of the bytes sent takes from the guest heap (wasm32: 4-byte header,"
        " 16-byte alignment, 16-byte minimum)."
    )
    return summary


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--polls", type=int, default=20_000, help="polls per scenario")
    parser.add_argument("--runs", type=int, default=3, help="child processes")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--child", choices=("growth", "traced"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "growth":
        child(args.polls)
        return 0
    if args.child == "traced":
        traced_child(args.polls)
        return 0
    prepare_plugins(
        [PROBE, ROOT / "plugins" / "bme680"],
        out_dir=BUILD_OUT,
        build_cache=BUILD_CACHE,
        artifacts=ArtifactCache(ARTIFACTS),
        report=console.print,
    )
    console.rule(f"Memory growth per poll, by scenario ({args.runs} runs of {args.polls:,})")
    runs = []
    for i in range(args.runs):
        runs.append(run_child("--child", "growth", "--polls", str(args.polls)))
        console.print(f"  run {i + 1} of {args.runs} done")
    summary = report(runs, args.polls)
    traced_polls = 10_000
    heap = run_child("--child", "traced", "--polls", str(traced_polls))
    console.print(
        f"  bme680 under tracemalloc, {traced_polls:,} polls: Python heap"
        f" {heap['bytes_per_call']:+.2f} B/poll"
    )
    for top in heap["top"][:4]:
        console.print(
            f"    {top['bytes'] / traced_polls:+.3f} B/poll ({top['blocks']:+d} blocks)"
            f" at {top['where']}"
        )
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "runs": runs, "traced": heap}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
