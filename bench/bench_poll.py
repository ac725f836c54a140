"""Section 3: poll cost of the sandboxed bme680 driver against the same driver run natively."""

from __future__ import annotations

import gc
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench_common import (
    ADDRESS,
    ARTIFACTS,
    BUS,
    GRANTS,
    TARGET_POLL_RATIO,
    Figure,
    Host,
    Profile,
    Results,
    console,
    load,
    load_driver,
    us,
)
from rich.table import Table

from harvester.hal import PluginHal
from harvester.hal.sim.backend import SimBackend
from harvester.hal.sim.bme680 import Bme680Sim
from harvester.runtime.artifacts import ArtifactCache

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
    hal = PluginHal(host.backend, GRANTS)
    via_hal = drv.Bme680(lambda data, n: hal.i2c_transfer(BUS, ADDRESS, data, n), hal.sleep_ms)
    via_hal.begin()
    # Less work: straight at the device model, as tests/hal/sim/test_bme680.py does.
    sim = host.backend.bus(BUS).devices[ADDRESS]
    assert isinstance(sim, Bme680Sim)

    def transfer(data: bytes, n: int) -> bytes:
        if data:
            sim.write(data)
        return sim.read(n) if n else b""

    direct = drv.Bme680(transfer, host.backend.clock.sleep_ms)
    direct.begin()
    bus = host.backend.bus(BUS)
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
        super().__init__(backend, GRANTS)
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

    def sleep_ms(self, ms: int, wake: threading.Event | None = None) -> None:
        with self._timed("sleep_ms"):
            super().sleep_ms(ms, wake)

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
