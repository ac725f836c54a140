"""The host's own start: import time, broken down, and process start → first readings.

    python bench/bench_host_start.py [--runs R] [--time-scale S] [--against CHECKOUT]

The `harvester` packages measured are byte-compiled first (compileall), as an installed
package is. Every figure is the median over R fresh processes of the Python running this script (the
spread, min..max, beside it), so compare figures from one run on one machine. With
`--against` another checkout's `harvester` (e.g. a `git worktree` of the parent commit) is
measured too, each of its processes right after the matching one of this checkout, so both
see the same machine load. Wall times suffer from other work on the machine; CPU times
(user + system of the child, from `os.wait4`) much less, so both are shown.

1. interpreter alone (`python -c pass`) and `import harvester.cli` (wall and CPU time of
   the whole process, so interpreter start-up included; and the import alone, timed
   inside);
2. who spends the import time, two ways: `python -X importtime -c "import harvester.cli"`
   (each module's own wall time, summed by package group), and the CPU time of importing
   the big parts one after another in one process (`STEPS`: each step pays only for what
   the steps before it did not import), which other work on the machine disturbs less;
3. `python -m harvester run` on a sim node with bme680 and dht22 (artifacts precompiled,
   warm page cache: the first run is discarded): time from spawning the process to each
   plugin's first readings line on stdout. `--time-scale 0` (default) takes the sensors'
   own conversion time out, so what is left is the host's.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench_common import ARTIFACTS, BUILD_CACHE, BUILD_OUT, HARVESTER_ROOT, ROOT, console
from rich.table import Table

from harvester.build.prepare import prepare_plugins
from harvester.runtime.artifacts import ArtifactCache

PLUGINS = ("bme680", "dht22")
# Package groups for the breakdown, first match wins.
GROUPS = (
    "harvester.build",
    "harvester.cli",
    "harvester.config",
    "harvester.hal",
    "harvester.node",
    "harvester.runtime",
    "harvester",
    "wasmtime",
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "typing_extensions",
    "typing_inspection",
    "rich",
)
# Imported in this order in one process; a step's CPU time is what it adds.
STEPS = (
    ("asyncio", "import asyncio"),
    ("pydantic (the package)", "import pydantic"),
    ("harvester.config (its models)", "import harvester.config"),
    ("wasmtime", "import wasmtime, wasmtime.component"),
    ("harvester.runtime", "import harvester.runtime.loader, harvester.runtime.plugin"),
    ("rich (console, logging)", "import rich.console, rich.logging, rich.markup"),
    ("harvester.hal, harvester.node", "import harvester.hal, harvester.node"),
    ("harvester.cli (the rest)", "import harvester.cli"),
)
_STEP_CODE = """
import json, sys, time
out = {}
for name, code in json.loads(sys.argv[1]):
    t = time.process_time()
    exec(code)
    out[name] = (time.process_time() - t) * 1000
print(json.dumps(out))
"""
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def group_of(module: str) -> str:
    for group in GROUPS:
        if module == group or module.startswith(group + "."):
            return group
    return "stdlib and the rest"


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} [{min(values):.0f}..{max(values):.0f}]"


def env_for(root: Path) -> dict[str, str]:
    """The environment that makes a child import `harvester` from the checkout `root`.

    Children also run *in* `root`: `python -c` and `-m` put the working directory first on
    sys.path, so a `harvester` there would win over PYTHONPATH."""
    return {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "200"}


def timed(cmd: list[str], root: Path) -> tuple[float, float, str]:
    """Run `cmd`; (wall ms, CPU ms of the child, its stdout)."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        child = subprocess.Popen(cmd, env=env_for(root), cwd=root, stdout=out)
        _, status, usage = os.wait4(child.pid, 0)
        wall = (time.perf_counter() - started) * 1000
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        text = out.read().decode()
    if child.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({child.returncode})")
    return wall, (usage.ru_utime + usage.ru_stime) * 1000, text


def import_figures(root: Path) -> dict[str, float]:
    """One process each: interpreter alone, and the import (wall, CPU, timed inside)."""
    wall0, cpu0, _ = timed([sys.executable, "-c", "pass"], root)
    code = (
        "import time; t = time.perf_counter(); import harvester.cli;"
        " print((time.perf_counter() - t) * 1000)"
    )
    wall, cpu, out = timed([sys.executable, "-c", code], root)
    return {
        "python -c pass, wall": wall0,
        "python -c pass, CPU": cpu0,
        "import harvester.cli: process wall": wall,
        "import harvester.cli: process CPU": cpu,
        "import harvester.cli: import alone (wall)": float(out.strip()),
    }


def import_steps(root: Path) -> dict[str, float]:
    """CPU ms of each of STEPS, in one fresh process."""
    cmd = [sys.executable, "-c", _STEP_CODE, json.dumps(STEPS)]
    return {k: float(v) for k, v in json.loads(timed(cmd, root)[2]).items()}


def importtime_groups(root: Path) -> dict[str, float]:
    """One `-X importtime` run: ms of own import time per group, and the total."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import harvester.cli"],
        env=env_for(root),
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    groups: dict[str, float] = defaultdict(float)
    for line in done.stderr.splitlines():
        m = _LINE.match(line)
        if m:
            groups[group_of(m[4])] += int(m[1]) / 1000
            if m[4] == "harvester.cli" and not m[3]:
                groups["total (cumulative)"] = int(m[2]) / 1000
    return groups


NODE = """\
[node]
name = "bench"
role = "spoke"
backend = "sim"
plugin_dir = "{plugins}"
cache_dir = "{artifacts}"

[sim]
time_scale = {time_scale}

[[sim.i2c]]
device = "bme680"
bus = 1
address = 0x77

[[sim.dht22]]
pin = 4
failure_rate = 0.0

[[plugins]]
name = "bme680"
poll_interval_s = 60.0
grants = {{ i2c = [{{ bus = 1, addresses = [0x77] }}] }}
settings = {{ bus = 1, address = 0x77 }}

[[plugins]]
name = "dht22"
poll_interval_s = 60.0
grants = {{ dht22 = [4] }}
settings = {{ pin = 4 }}
"""


def cpu_ms_of(pid: int) -> float:
    """CPU time (user + system, all threads) a live process has used so far, in ms (at the
    kernel's clock-tick resolution, usually 10 ms)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def first_readings(
    config: Path, root: Path, plugins: tuple[str, ...] = PLUGINS
) -> dict[str, float]:
    """Spawn a node; ms from spawning to each of `plugins`' first readings line (and the
    node's CPU time when the last of them came), then stop it."""
    cmd = [sys.executable, "-m", "harvester", "run", "--config", str(config)]
    started = time.perf_counter()
    node = subprocess.Popen(
        cmd,
        env=env_for(root),
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    seen: dict[str, float] = {}
    assert node.stdout is not None
    try:
        for line in node.stdout:
            now = (time.perf_counter() - started) * 1000
            words = line.split()
            if len(words) >= 3 and words[1] in plugins and "=" in words[2]:
                seen.setdefault(words[1], now)
            if len(seen) == len(plugins):
                seen["CPU"] = cpu_ms_of(node.pid)
                break
    finally:
        node.send_signal(signal.SIGINT)
        try:
            node.wait(timeout=10)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
    if "CPU" not in seen:
        raise RuntimeError(f"node gave no readings for {set(plugins) - set(seen)}")
    return seen


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="processes per figure")
    parser.add_argument("--time-scale", type=float, default=0.0, help="sim device timing")
    parser.add_argument("--against", type=Path, help="another checkout to measure alongside")
    args = parser.parse_args(argv)
    prepare_plugins(
        [ROOT / "plugins" / name for name in PLUGINS],
        out_dir=BUILD_OUT,
        build_cache=BUILD_CACHE,
        artifacts=ArtifactCache(ARTIFACTS),
        report=console.print,
    )
    roots = {"this": HARVESTER_ROOT}
    if args.against:
        roots["against"] = args.against.resolve()
    console.rule(f"Host start: {args.runs} processes per figure, {sys.executable}")
    for label, root in roots.items():
        console.print(f"  {label}: {root}")
    console.print(f"  load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    for root in roots.values():
        # Byte-compiled, as an installed package is (PYTHONDONTWRITEBYTECODE may be set
        # here, and a checkout without .pyc files pays for compiling on every start).
        compileall.compile_dir(root / "harvester", quiet=1)
        import_figures(root)  # warm the page cache
    figures: dict[str, dict[str, list[float]]] = {k: defaultdict(list) for k in roots}
    groups: dict[str, list[dict[str, float]]] = {k: [] for k in roots}
    steps: dict[str, list[dict[str, float]]] = {k: [] for k in roots}
    for _ in range(args.runs):
        for label, root in roots.items():
            for key, value in import_figures(root).items():
                figures[label][key].append(value)
            groups[label].append(importtime_groups(root))
            steps[label].append(import_steps(root))
    with tempfile.TemporaryDirectory(prefix="harvester-bench-") as tmp:
        config = Path(tmp) / "node.toml"
        config.write_text(
            NODE.format(plugins=BUILD_OUT, artifacts=ARTIFACTS, time_scale=args.time_scale)
        )
        for root in roots.values():
            first_readings(config, root)  # discarded: checksum checks, page cache
        for _ in range(args.runs):
            for label, root in roots.items():
                for plugin, ms in first_readings(config, root).items():
                    if plugin == "CPU":
                        figures[label]["node CPU until every plugin's first readings"].append(ms)
                    else:
                        figures[label][f"spawn → first {plugin} readings (wall)"].append(ms)

    table = Table("figure, ms: median [min..max]", *roots)
    for key in figures["this"]:
        table.add_row(key, *(spread(figures[label][key]) for label in roots))
    console.print(table)
    names = sorted(
        {k for runs in groups.values() for r in runs for k in r},
        key=lambda k: -statistics.median([r.get(k, 0.0) for r in groups["this"]]),
    )
    table = Table("-X importtime: own time by group, ms", *roots)
    for name in names:
        table.add_row(name, *(spread([r.get(name, 0.0) for r in groups[label]]) for label in roots))
    console.print(table)
    table = Table("CPU ms per import step, in order", *roots)
    for name, _ in STEPS:
        table.add_row(name, *(spread([r[name] for r in steps[label]]) for label in roots))
    totals = {label: [sum(r.values()) for r in steps[label]] for label in roots}
    table.add_row("all steps", *(spread(totals[label]) for label in roots))
    console.print(table)
    console.print(
        f"  sim time_scale {args.time_scale}; load average after: {os.getloadavg()[0]:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
