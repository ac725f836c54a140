"""Section 6: from a call's deadline to the fault, for guests blocked in different places.

Each run starts a fresh instance through the node's own PluginRunner (its thread, its
watchdog, its deadline), then makes one call that cannot finish: the guest loops in wasm,
sleeps with clock.sleep-ms, is stuck in an I2C transfer the device never answers, or
tries to sleep in WASI. The figure is the time from the call's deadline (when the call
began in the instance's thread + call_timeout_ms) until the runner has the fault in hand.
A WASI sleep is refused at the call, so its figure is negative: the fault came before
the deadline.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_common import ARTIFACTS, BUILD_CACHE, BUILD_OUT, HOSTILE, ROOT, Figure, Results, console
from rich.table import Table

from harvester.build.prepare import prepare_plugins
from harvester.config import PluginConfig, RestartPolicy, SimConfig
from harvester.hal.sim.backend import SimBackend
from harvester.hal.sim.bme680 import Bme680Sim
from harvester.node.events import EventBus
from harvester.node.runner import PluginRunner
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.engine import EpochTicker, make_engine
from harvester.runtime.errors import PluginFault

TARGET_MS = 100.0
TIMEOUT_MS = 200
PLUGINS = ("loop-forever", "sleep-forever", "wasi-sleep")


class ArmedDevice:
    """A working BME680 model until armed; then every transfer blocks until released."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.armed = False
        self.release = threading.Event()

    def _wait(self) -> None:
        if self.armed:
            self.release.wait()

    def write(self, data: bytes) -> None:
        self._wait()
        self.inner.write(data)

    def read(self, length: int) -> bytes:
        self._wait()
        return self.inner.read(length)


@dataclass(frozen=True)
class Case:
    label: str
    component: str
    time_scale: float = 0.0  # 1: our sleep really waits
    stuck_bus: bool = False


CASES = (
    Case("looping in wasm (epoch)", "loop-forever"),
    Case("in clock.sleep-ms (ends at the deadline)", "sleep-forever", time_scale=1.0),
    Case("stuck in an i2c transfer (abandoned)", "bme680", stuck_bus=True),
    Case("sleeping in WASI (refused at the call)", "wasi-sleep"),
)


def _runner(case: Case, plugin_dir: Path, backend: SimBackend, engine: Any) -> PluginRunner:
    config = PluginConfig.model_validate(
        {
            "name": "blocked",
            "component": case.component,
            "limits": {"call_timeout_ms": TIMEOUT_MS},
            "grants": {"i2c": [{"bus": 1, "addresses": [0x77]}]},
        }
    )
    return PluginRunner(
        config,
        component_path=plugin_dir / f"{case.component}.wasm",
        engine=engine,
        artifacts=ArtifactCache(ARTIFACTS),
        backend=backend,
        bus=EventBus("bench"),
        restart=RestartPolicy(),
    )


async def _measure(case: Case, plugin_dir: Path, runs: int) -> list[float]:
    backend = SimBackend(SimConfig(time_scale=case.time_scale))
    device = ArmedDevice(Bme680Sim(backend.clock))
    backend.bus(1).attach(0x77, device)
    engine = make_engine()
    runner = _runner(case, plugin_dir, backend, engine)
    loaded = await runner.load()
    late_ms: list[float] = []
    with EpochTicker(engine):
        for _ in range(runs):
            device.armed, device.release = False, threading.Event()
            live, _metrics = await runner.start(loaded)
            device.armed = case.stuck_bus
            began: list[float] = []

            def poll(sensor: Any = live.sensor, began: list[float] = began) -> Any:
                began.append(time.monotonic())
                return sensor.poll()

            try:
                await runner.call(live.thread, live.instance, poll)
            except PluginFault:
                faulted = time.monotonic()
            else:
                raise AssertionError(f"{case.component}: the call returned")
            finally:
                device.release.set()  # let an abandoned thread go (its next call traps)
                live.thread.close()
            late_ms.append((faulted - began[0]) * 1000 - TIMEOUT_MS)
    return late_ms


def bench_deadline(runs: int, results: Results) -> None:
    console.rule(f"6. Deadline to fault ({runs} runs each, call_timeout_ms = {TIMEOUT_MS})")
    prepare_plugins(
        [HOSTILE / p for p in PLUGINS] + [ROOT / "plugins" / "bme680"],
        out_dir=BUILD_OUT,
        build_cache=BUILD_CACHE,
        artifacts=ArtifactCache(ARTIFACTS),
        report=console.print,
    )
    table = Table("guest blocked", "p50 ms", "p99 ms", "max ms")
    details = {}
    for case in CASES:
        samples = asyncio.run(_measure(case, BUILD_OUT, runs))
        p50 = statistics.median(samples)
        p99 = _p99(samples)
        details[case.label] = samples
        table.add_row(case.label, f"{p50:+.1f}", f"{p99:+.1f}", f"{max(samples):+.1f}")
        target = None if case.component == "wasi-sleep" else TARGET_MS
        results.add(
            f"deadline_to_fault_{case.component}",
            Figure(f"deadline → fault p99, {case.label}", p99, "ms", target),
        )
    console.print(table)
    console.print(
        "Negative: the fault came before the deadline (the WASI wait is refused at the call)."
    )
    results.details["deadline_to_fault_ms"] = details


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
