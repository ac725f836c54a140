"""Harvester runtime benchmark: start, compile, poll cost, memory, memory growth, deadlines.

    python bench/runtime_bench.py [--quick] [--json PATH] [--soak-polls N]

Builds the plugins it needs (cached by content hash), precompiles them, then measures and
prints every figure with its target and PASS/MISS. It always exits 0 once it has measured:
a benchmark reports, it does not gate CI. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path

from bench_common import (
    HARVESTER_ROOT,
    QUICK,
    ROOT,
    SIM,
    Host,
    Profile,
    Results,
    console,
    machine_load,
    prepare,
)
from bench_deadline import bench_deadline
from bench_memory import bench_memory, child_main
from bench_poll import bench_poll
from bench_soak import bench_soak
from bench_start import bench_compile, bench_start
from rich.table import Table

from harvester.hal.sim.backend import SimBackend
from harvester.runtime import fastcall
from harvester.runtime.engine import EpochTicker, make_engine

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
    parser.add_argument(
        "--soak-polls",
        type=int,
        metavar="N",
        help="calls per path in the soak section (default 50,000; 10,000 with --quick; 0 skips)",
    )
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
    console.print(f"component calls: {fastcall.REASON}")
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
    soak_polls = profile.soak_polls if args.soak_polls is None else args.soak_polls
    if soak_polls > 0:
        bench_soak(profile, results, soak_polls)
    bench_deadline(profile.deadline_runs, results)
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
