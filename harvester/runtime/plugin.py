"""One live plugin instance: a Store with limits, the instantiated component, its exports.

Calls are blocking (wasm runs in this thread, with the GIL released); the supervisor
runs them in the plugin's own worker thread. A fault leaves the instance poisoned:
the caller must drop it and make a new one.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Any

import wasmtime
from wasmtime.component import Component, ExportIndex, Linker, Variant

from harvester.config import Limits
from harvester.constants import IFACE_SENSOR, METRIC_NAME_PATTERN
from harvester.node.plugin_log import PluginLog
from harvester.runtime.engine import deadline_ticks
from harvester.runtime.errors import (
    PluginContractError,
    PluginCrashed,
    PluginFault,
    PluginLoadError,
    PluginOutOfMemory,
    PluginReportedError,
    PluginTimeout,
    PluginTrap,
)
from harvester.runtime.fastcall import FastFunc
from harvester.runtime.host_api import record

STDERR_TAIL_LINES = 20
WASM_PAGE = 65536
_START_PAGES = re.compile(r"memory minimum size of (\d+) pages exceeds memory limits")
_METRIC_NAME = re.compile(METRIC_NAME_PATTERN)
_MAX_METRICS = 64
_MAX_UNIT = 16


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    device_class: str
    state_class: str


@dataclass(frozen=True)
class PluginReading:
    metric: str
    value: float


class _GuestOutput:
    """Collects the guest's stdout/stderr: lines go to the plugin log, stderr's tail is kept
    so a trap can say what the guest printed last (e.g. a Python traceback)."""

    def __init__(self, plugin_log: PluginLog, level: str) -> None:
        self._log = plugin_log
        self._level = level
        self._partial = b""
        self.tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)

    def __call__(self, data: bytes) -> int:
        *lines, self._partial = (self._partial + data).split(b"\n")
        if len(self._partial) > 4096:  # no newline in sight: cut it
            lines.append(self._partial)
            self._partial = b""
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self.tail.append(line)
                self._log.plugin_said(self._level, line)  # type: ignore[arg-type]
        return len(data)


def _trap_cause(text: str) -> str:
    """wasmtime's message is a backtrace, then "Caused by:" and the reason; keep the reason."""
    head, _, cause = text.partition("Caused by:")
    lines = [line.strip() for line in (cause or head).splitlines() if line.strip()]
    return lines[-1] if cause and lines else (lines[0] if lines else "trap")


def _classify(plugin: str, exc: wasmtime.WasmtimeError, stderr_tail: list[str]) -> PluginFault:
    if isinstance(exc, wasmtime.ExitTrap):
        return PluginTrap(plugin, f"guest called exit({exc.code})")
    cause = _trap_cause(str(exc))
    said = " | ".join(stderr_tail[-3:])
    detail = cause + (f" (guest printed: {said})" if said else "")
    if "interrupt" in cause:
        return PluginTimeout(plugin, "call exceeded its deadline and was interrupted")
    if "call stack exhausted" in cause:
        return PluginTrap(plugin, f"stack overflow: {detail}")
    if "MemoryError" in said or "out of memory" in cause.lower():
        return PluginOutOfMemory(plugin, detail)
    return PluginTrap(plugin, detail)


def _validate_metrics(plugin: str, raw: Any) -> tuple[Metric, ...]:
    if not isinstance(raw, list) or len(raw) > _MAX_METRICS:
        raise PluginContractError(plugin, f"describe() must return at most {_MAX_METRICS} metrics")
    metrics = []
    for rec in raw:
        name, unit = rec.name, rec.unit
        if not _METRIC_NAME.match(name):
            raise PluginContractError(
                plugin, f"metric name {name!r} must match {METRIC_NAME_PATTERN}"
            )
        if len(unit) > _MAX_UNIT:
            raise PluginContractError(plugin, f"unit {unit!r} of {name!r} is too long")
        metrics.append(
            Metric(name, unit, getattr(rec, "device-class"), getattr(rec, "state-class"))
        )
    if len({m.name for m in metrics}) != len(metrics):
        raise PluginContractError(plugin, "describe() repeats a metric name")
    return tuple(metrics)


def _sensor_error(plugin: str, err: Variant) -> PluginReportedError | PluginFault:
    if err.tag == "out-of-memory":
        return PluginOutOfMemory(plugin, "guest reported MemoryError")
    if err.tag == "internal":
        return PluginCrashed(plugin, f"unexpected exception: {err.payload}")
    if err.tag == "hal" and isinstance(err.payload, Variant):
        hal = err.payload
        text = hal.tag if hal.payload is None else f"{hal.tag}: {hal.payload}"
        return PluginReportedError(plugin, "hal", text)
    return PluginReportedError(plugin, err.tag, str(err.payload))


class PluginInstance:
    """Instantiate `component` in a fresh Store with `limits`.

    Raises PluginLoadError if it does not link, PluginFault if instantiation traps.
    """

    def __init__(
        self,
        *,
        name: str,
        engine: wasmtime.Engine,
        component: Component,
        linker: Linker,
        limits: Limits,
        plugin_log: PluginLog,
    ) -> None:
        self.name = name
        self._ticks = deadline_ticks(limits.call_timeout_ms)
        self._store = wasmtime.Store(engine)
        self._store.set_limits(memory_size=limits.memory_mb * 1024 * 1024)
        wasi = wasmtime.WasiConfig()  # no args, no env, no preopened dirs, no stdin
        self._stdout = _GuestOutput(plugin_log, "info")
        self._stderr = _GuestOutput(plugin_log, "warn")
        wasi.stdout_custom = self._stdout
        wasi.stderr_custom = self._stderr
        self._store.set_wasi(wasi)
        self._store.set_epoch_deadline(self._ticks)
        try:
            self._instance = linker.instantiate(self._store, component)
        except wasmtime.WasmtimeError as exc:
            text = str(exc)
            if "import" in text or "matching implementation" in text:
                raise PluginLoadError(name, f"cannot link: {exc}") from exc
            if (pages := _START_PAGES.search(text)) is not None:
                # Restarting cannot help: the component needs more memory just to start.
                need_mb = int(pages.group(1)) * WASM_PAGE / 2**20
                raise PluginLoadError(
                    name,
                    f"needs {need_mb:.1f} MB of linear memory to start, more than its"
                    f" limits.memory_mb = {limits.memory_mb}",
                ) from exc
            raise _classify(name, exc, list(self._stderr.tail)) from exc
        iface = self._instance.get_export_index(self._store, IFACE_SENSOR)
        if iface is None:
            raise PluginLoadError(name, f"does not export {IFACE_SENSOR}")
        self._init = self._export(iface, "init")
        self._describe = self._export(iface, "describe")
        self._poll = self._export(iface, "poll")

    def _export(self, iface: ExportIndex, func: str) -> FastFunc:
        index = self._instance.get_export_index(self._store, func, iface)
        found = index and self._instance.get_func(self._store, index)
        if not found:
            raise PluginLoadError(self.name, f"does not export {IFACE_SENSOR}#{func}")
        return FastFunc(found, self._store)  # converters built once, not on every call

    def _call(self, func: FastFunc, *args: Any) -> Any:
        self._store.set_epoch_deadline(self._ticks)
        try:
            result = func(self._store, *args)
            func.post_return(self._store)
        except wasmtime.WasmtimeError as exc:
            raise _classify(self.name, exc, list(self._stderr.tail)) from exc
        return result

    def init(self, settings: dict[str, str | int | float | bool]) -> None:
        """Raises PluginFault, or PluginReportedError if the plugin refuses its settings."""
        args = [record(key=k, value=_setting_text(v)) for k, v in settings.items()]
        result = self._call(self._init, args)
        if isinstance(result, Variant):
            raise _sensor_error(self.name, result)

    def describe(self) -> tuple[Metric, ...]:
        return _validate_metrics(self.name, self._call(self._describe))

    def poll(self) -> tuple[PluginReading, ...]:
        """One poll. Raises PluginFault (instance is dead) or PluginReportedError (it is not)."""
        result = self._call(self._poll)
        if isinstance(result, Variant):
            raise _sensor_error(self.name, result)
        return tuple(PluginReading(r.metric, r.value) for r in result)


def _setting_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
