"""The pi4 reference node (examples/pi4.toml, sim backend) as a whole.

    python bench/bench_node.py [--polls N] [--runs R] [--quick]

1. Start, warm (artifacts precompiled, page cache warm, the first run discarded): the
   host's import time (`import harvester.cli`, timed inside a fresh process) and the time
   from spawning `harvester run` on the pi4 config to each sensor plugin's first readings
   line, with device timing real (the sim's time_scale 1). Aim: ≤ 500 ms + the sensors'
   own conversion time (the BME680's ~190 ms with its 150 ms heater step).
2. The whole node, in a child process: the pi4 config with every poll interval at 0.01 s
   and device timing off, until N polls in all (every plugin's, after a warm-up of N/5):
   the node's RSS (aim ≤ 120 MB) and its growth per 10,000 polls (aim: flat within noise;
   bench/README.md explains what does grow and why).
3. Poll cost per plugin, sandboxed, next to the same driver run natively where a native
   twin exists: bme680 (its driver module imported by the host, over the same simulated
   bus), pi4-monitor (the native pizero monitor's `read_health` over the same system
   info), dht22 (the HAL read it wraps). oled and pi4-actuator have none: their drivers
   are CircuitPython packages bundled into the component, not installed on the host.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_common import ARTIFACTS, BUILD_CACHE, BUILD_OUT, HARVESTER_ROOT, ROOT, console, rss_kb
from bench_host_start import first_readings, import_figures, spread
from rich.table import Table

from harvester.build.prepare import prepare_plugins
from harvester.config import NodeConfig, load_node_config
from harvester.runtime.artifacts import ArtifactCache

EXAMPLE = ROOT / "examples" / "pi4.toml"
SENSORS = ("bme680", "dht22", "pi4-monitor")  # the plugins that report readings
TARGET_NODE_MB = 120.0
TARGET_FIRST_MS = 500.0 + 190.0  # the host's 500 ms + the BME680's conversion


def node_config(*, time_scale: float, interval_s: float | None) -> NodeConfig:
    """The pi4 example with the benchmark's build folders (and faster polls, if asked)."""
    config = load_node_config(EXAMPLE)
    plugins = tuple(
        p if interval_s is None else p.model_copy(update={"poll_interval_s": interval_s})
        for p in config.plugins
    )
    return config.model_copy(
        update={
            "plugin_dir": BUILD_OUT,
            "cache_dir": ARTIFACTS,
            "plugins": plugins,
            "sim": config.sim.model_copy(update={"time_scale": time_scale}),
        }
    )


def prepare() -> None:
    config = load_node_config(EXAMPLE)
    prepare_plugins(
        [ROOT / "plugins" / p.component_name for p in config.plugins],
        out_dir=BUILD_OUT,
        build_cache=BUILD_CACHE,
        artifacts=ArtifactCache(ARTIFACTS),
        report=console.print,
    )


# --- 1. start ----------------------------------------------------------------------------


def start_figures(runs: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="harvester-bench-") as tmp:
        config = Path(tmp) / "pi4.toml"
        # A TOML the CLI loads: the example's text with absolute build folders.
        text = EXAMPLE.read_text()
        text = text.replace('"../build/plugins"', json.dumps(str(BUILD_OUT)))
        text = text.replace('"../.harvester/artifacts"', json.dumps(str(ARTIFACTS)))
        config.write_text(text)
        import_figures(HARVESTER_ROOT)  # warm
        first_readings(config, HARVESTER_ROOT, SENSORS)  # discarded: page cache, checksums
        for _ in range(runs):
            for key, value in import_figures(HARVESTER_ROOT).items():
                if key.startswith("import") or key.startswith("python"):
                    figures.setdefault(key, []).append(value)
            for plugin, ms in first_readings(config, HARVESTER_ROOT, SENSORS).items():
                key = "node CPU until then" if plugin == "CPU" else f"spawn → first {plugin}"
                figures.setdefault(key, []).append(ms)
    return figures


# --- 2. the whole node (child process) -----------------------------------------------------


async def run_node_for(polls: int, warmup: int) -> dict[str, Any]:
    from harvester.hal.sim.backend import SimBackend
    from harvester.node.events import EventBus
    from harvester.node.supervisor import Supervisor

    config = node_config(time_scale=0.0, interval_s=0.01)
    bus = EventBus(config.name)
    backend = SimBackend(config.sim)
    samples: list[tuple[int, dict[str, int]]] = []
    async with bus.subscribe(maxsize=10) as _events:  # a listener, as the mesh will be
        async with Supervisor(config, backend=backend, bus=bus) as node:
            runners = list(node.runners.values())

            def total() -> int:
                return sum(r.polls for r in runners)

            started = time.perf_counter()
            while total() < warmup:
                await asyncio.sleep(0.05)
            settled = rss_kb()
            end = warmup + polls
            step = max(polls // 20, 1)
            mark = warmup
            while (done := total()) < end:
                if done >= mark:
                    samples.append((done, rss_kb()))
                    mark += step
                await asyncio.sleep(0.01)
            samples.append((total(), rss_kb()))
            seconds = time.perf_counter() - started
            per_plugin = {r.name: r.polls for r in runners}
            states = {r.name: r.state for r in runners}
            restarts = {r.name: r.instances_started - 1 for r in runners}
    return {
        "settled": settled,
        "samples": samples,
        "per_plugin": per_plugin,
        "states": states,
        "restarts": restarts,
        "seconds": seconds,
    }


def slope_per_10k(samples: list[tuple[int, dict[str, int]]], key: str) -> float:
    """Least-squares growth of `key` (kB) per 10,000 polls, in bytes."""
    xs = [float(n) for n, _ in samples]
    ys = [float(s[key]) * 1024 for _, s in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den * 10_000


# --- 3. poll cost per plugin (child process) ---------------------------------------------


def poll_costs(polls: int) -> dict[str, dict[str, float]]:
    from harvester.hal import PluginHal
    from harvester.hal.sim.backend import SimBackend
    from harvester.node.events import EventBus
    from harvester.node.latest import LatestReadings
    from harvester.node.native_monitor import read_health
    from harvester.node.plugin_log import PluginLog
    from harvester.runtime.engine import EpochTicker, make_engine
    from harvester.runtime.plugin import PluginInstance
    from harvester.runtime.sensor import SensorExport

    config = node_config(time_scale=0.0, interval_s=None)
    backend = SimBackend(config.sim)
    engine = make_engine()
    cache = ArtifactCache(ARTIFACTS)
    bus = EventBus(config.name, loop=asyncio.new_event_loop())  # never run: nobody listens
    latest = LatestReadings(config.name)
    out: dict[str, dict[str, float]] = {}

    def timed(fn: Callable[[], object]) -> float:
        for _ in range(max(polls // 10, 5)):
            fn()
        started = time.perf_counter_ns()
        for _ in range(polls):
            fn()
        return (time.perf_counter_ns() - started) / polls / 1000

    with EpochTicker(engine):
        for p in config.plugins:
            if p.name == "pi4-actuator":
                continue  # not polled: it answers commands
            instance = PluginInstance(
                name=p.name,
                engine=engine,
                component=cache.load(engine, BUILD_OUT / f"{p.component_name}.wasm", plugin=p.name),
                hal=PluginHal(backend, p.grants, readings=latest),
                grants=p.grants,
                limits=p.limits,
                guest_log=PluginLog(p.name, bus),
            )
            sensor = instance.export(SensorExport)
            assert sensor is not None
            sensor.init(dict(p.settings))
            sensor.describe()
            if p.name == "dht22":  # the sensor's 2 s: the sim clock moves only by sleeps
                backend.clock.sleep_ms(2001)
            out[p.name] = {"sandboxed": timed(sensor.poll)}

    driver_dir = str(ROOT / "plugins" / "bme680")
    sys.path.insert(0, driver_dir)
    import bme680_driver

    def transfer(data: bytes, n: int) -> bytes:
        return backend.i2c.transfer(1, 0x77, data, n)

    native = bme680_driver.Bme680(transfer, backend.clock.sleep_ms)
    native.begin()
    out["bme680"]["native"] = timed(native.measure)
    out["pi4-monitor"]["native"] = timed(lambda: read_health(backend.system, lambda *_: None))
    out["dht22"]["native"] = timed(lambda: backend.dht22.read(4))
    return out


def child(kind: str, polls: int) -> None:
    if kind == "node":
        result: Any = asyncio.run(run_node_for(polls, warmup=max(polls // 5, 200)))
    else:
        result = poll_costs(polls)
    print(json.dumps(result))


def in_child(kind: str, polls: int) -> Any:
    env = {**os.environ, "PYTHONPATH": f"{HARVESTER_ROOT}{os.pathsep}{Path(__file__).parent}"}
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--polls", str(polls)],
        env=env,
        cwd=HARVESTER_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--polls", type=int, default=10_000, help="node polls after warm-up")
    parser.add_argument("--runs", type=int, default=5, help="processes per start figure")
    parser.add_argument("--quick", action="store_true", help="2,000 polls, 3 runs")
    parser.add_argument("--child", choices=("node", "costs"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.polls, args.runs = 2_000, 3
    if args.child:
        child(args.child, args.polls)
        return 0
    prepare()
    console.rule(f"pi4 reference node (sim): {EXAMPLE.relative_to(ROOT)}")
    console.print(f"  load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")

    figures = start_figures(args.runs)
    table = Table(f"1. start, warm (ms, median [min..max] of {args.runs})", "value", "aim")
    for key, values in figures.items():
        aim = f"≤ {TARGET_FIRST_MS:.0f}" if key.startswith("spawn") else ""
        table.add_row(key, spread(values), aim)
    console.print(table)

    node = in_child("node", args.polls)
    samples = [(n, s) for n, s in node["samples"]]
    vm_mb = node["settled"]["VmRSS"] / 1024
    end_mb = samples[-1][1]["VmRSS"] / 1024
    table = Table(
        f"2. whole node: {sum(node['per_plugin'].values()):,} polls in {node['seconds']:.0f} s",
        "value",
        "aim",
    )
    table.add_row("VmRSS after warm-up", f"{vm_mb:.1f} MB", f"≤ {TARGET_NODE_MB:.0f} MB")
    table.add_row("VmRSS at the end", f"{end_mb:.1f} MB", "")
    for key in ("VmRSS", "RssAnon"):
        table.add_row(f"{key} growth per 10,000 polls", f"{slope_per_10k(samples, key):,.0f} B", "")
    table.add_row(
        "polls per plugin", ", ".join(f"{k} {v}" for k, v in node["per_plugin"].items()), ""
    )
    table.add_row("restarts", ", ".join(f"{k} {v}" for k, v in node["restarts"].items()), "0")
    console.print(table)

    costs = in_child("costs", max(args.polls // 10, 200))
    table = Table("3. poll cost, µs per poll", "sandboxed", "native twin", "ratio")
    for plugin, c in costs.items():
        nat = c.get("native")
        table.add_row(
            plugin,
            f"{c['sandboxed']:,.0f}",
            f"{nat:,.0f}" if nat else "none",
            f"{c['sandboxed'] / nat:.1f}×" if nat else "",
        )
    console.print(table)
    console.print(f"  load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
