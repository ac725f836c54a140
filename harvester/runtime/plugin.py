"""One live plugin instance: a Store with limits, the instantiated component, its exports.

Calls are blocking (wasm runs in the calling thread, with the GIL released); the node
runs them in the instance's own thread (runtime/worker.py). A fault leaves the instance
poisoned: the caller must drop it and make a new one. What the instance exports is read
from the component (`exports`), and each export kind we know has a wrapper class
(runtime/sensor.py) got with `export(kind)`.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections import deque
from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

import wasmtime
from wasmtime.component import Component, ExportIndex

from harvester.config import Grants, Limits
from harvester.constants import LogLevel, current_interface
from harvester.hal import PluginHal
from harvester.runtime.deadline import DEADLINE_TRAP, CallDeadline
from harvester.runtime.engine import deadline_ticks
from harvester.runtime.errors import (
    PluginFault,
    PluginLoadError,
    PluginOutOfMemory,
    PluginTimeout,
    PluginTrap,
)
from harvester.runtime.fastcall import FastFunc, Signature
from harvester.runtime.host_api import GuestLog, build_linker
from harvester.runtime.hub_data import HubData

STDERR_TAIL_LINES = 20
WASM_PAGE = 65536
# Export converters per Component, shared by its instances (kept while the Component is).
_SIGNATURES: weakref.WeakKeyDictionary[Component, dict[tuple[str, str], Signature]] = (
    weakref.WeakKeyDictionary()
)
_SIGNATURES_LOCK = threading.Lock()
_START_PAGES = re.compile(r"memory minimum size of (\d+) pages exceeds memory limits")


class ExportKind(Protocol):
    """A wrapper for one exported interface (e.g. SensorExport for `sensor`)."""

    INTERFACE: str

    def __init__(self, instance: PluginInstance) -> None: ...


E = TypeVar("E", bound=ExportKind)


class _GuestOutput:
    """Collects the guest's stdout/stderr: lines go to the plugin log, stderr's tail is kept
    so a trap can say what the guest printed last (e.g. a Python traceback)."""

    def __init__(self, guest_log: GuestLog, level: LogLevel) -> None:
        self._log = guest_log
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
                self._log.plugin_said(self._level, line)
        return len(data)


def _trap_cause(text: str) -> str:
    """wasmtime's message is a backtrace, then "Caused by:" and the reason; keep the reason."""
    head, _, cause = text.partition("Caused by:")
    lines = [line.strip() for line in (cause or head).splitlines() if line.strip()]
    return lines[-1] if cause and lines else (lines[0] if lines else "trap")


def classify(plugin: str, exc: wasmtime.WasmtimeError, stderr_tail: list[str]) -> PluginFault:
    """The fault a failed guest call (or instantiation) amounts to."""
    if isinstance(exc, wasmtime.ExitTrap):
        return PluginTrap(plugin, f"guest called exit({exc.code})")
    cause = _trap_cause(str(exc))
    said = " | ".join(stderr_tail[-3:])
    detail = cause + (f" (guest printed: {said})" if said else "")
    if "interrupt" in cause:
        return PluginTimeout(plugin, f"{DEADLINE_TRAP} and was interrupted")
    if DEADLINE_TRAP in cause:
        return PluginTimeout(plugin, cause)
    if "call stack exhausted" in cause:
        return PluginTrap(plugin, f"stack overflow: {detail}")
    if "MemoryError" in said or "out of memory" in cause.lower():
        return PluginOutOfMemory(plugin, detail)
    return PluginTrap(plugin, detail)


def component_imports(engine: wasmtime.Engine, component: Component) -> tuple[str, ...]:
    return tuple(component.type.imports(engine))


class PluginInstance:
    """Instantiate `component` in a fresh Store with `limits`, its host functions serving `hal`.

    `imports` and `exports` are the component's, as load_component found them (read from
    the component when not given). `hub_data` serves the `hub-data` import, if granted.
    Raises PluginLoadError if it does not link or cannot
    start within its memory limit, PluginFault if instantiation traps or runs past its
    deadline.
    """

    def __init__(
        self,
        *,
        name: str,
        engine: wasmtime.Engine,
        component: Component,
        hal: PluginHal,
        grants: Grants,
        limits: Limits,
        guest_log: GuestLog,
        imports: Iterable[str] | None = None,
        exports: frozenset[str] | None = None,
        hub_data: HubData | None = None,
    ) -> None:
        self.name = name
        self.deadline = CallDeadline(limits.call_timeout_ms)
        self._ticks = deadline_ticks(limits.call_timeout_ms)
        self._store = wasmtime.Store(engine)
        self._store.set_limits(memory_size=limits.memory_mb * 1024 * 1024)
        wasi = wasmtime.WasiConfig()  # no args, no env, no preopened dirs, no stdin
        self._stdout = _GuestOutput(guest_log, LogLevel.INFO)
        self._stderr = _GuestOutput(guest_log, LogLevel.WARN)
        wasi.stdout_custom = self._stdout
        wasi.stderr_custom = self._stderr
        self._store.set_wasi(wasi)
        if imports is None:
            imports = component_imports(engine, component)
        linker = build_linker(
            engine, hal, grants, guest_log, self.deadline, imports=imports, hub_data=hub_data
        )
        self._begin()
        try:
            self._instance = linker.instantiate(self._store, component)
        except wasmtime.WasmtimeError as exc:
            raise self._instantiate_error(exc, limits) from exc
        finally:
            self.deadline.end()
        self._component = component
        if exports is None:
            exports = frozenset(component.type.exports(engine))
        # Export names as this host knows them (a 1.0 component's sensor@1.0.0 is our
        # sensor), and the name each has in the component, to look its functions up by.
        self._export_names = {current_interface(name): name for name in exports}
        self.exports = frozenset(self._export_names)

    def _begin(self) -> None:
        self.deadline.begin()
        self._store.set_epoch_deadline(self._ticks)

    def _instantiate_error(self, exc: wasmtime.WasmtimeError, limits: Limits) -> Exception:
        text = str(exc)
        if "matching implementation" in text:  # wasmtime's words for an unsatisfied import
            return PluginLoadError(self.name, f"cannot link: {exc}")
        if (pages := _START_PAGES.search(text)) is not None:
            # Restarting cannot help: the component needs more memory just to start.
            need_mb = int(pages.group(1)) * WASM_PAGE / 2**20
            return PluginLoadError(
                self.name,
                f"needs {need_mb:.1f} MB of linear memory to start, more than its"
                f" limits.memory_mb = {limits.memory_mb}",
            )
        return classify(self.name, exc, list(self._stderr.tail))

    def export(self, kind: type[E]) -> E | None:
        """The wrapper for an exported interface, or None if the component lacks it.

        Raises PluginLoadError if it exports the interface without a function it needs.
        """
        return kind(self) if kind.INTERFACE in self.exports else None

    def func(self, interface: str, name: str) -> FastFunc:
        """An exported function, with its value converters built once.

        Raises PluginLoadError if the component does not export it.
        """
        own_name = self._export_names.get(interface, interface)
        iface: ExportIndex | None = self._instance.get_export_index(self._store, own_name)
        index = iface and self._instance.get_export_index(self._store, name, iface)
        found = index and self._instance.get_func(self._store, index)
        if not found:
            raise PluginLoadError(self.name, f"does not export {interface}#{name}")
        # Every instance of one Component has the same export types: build converters once.
        with _SIGNATURES_LOCK:
            known = _SIGNATURES.setdefault(self._component, {})
            signature = known.get((interface, name))
        func = FastFunc(found, self._store, signature=signature)
        if signature is None and func.signature is not None:
            with _SIGNATURES_LOCK:
                known[(interface, name)] = func.signature
        return func

    def call(self, func: FastFunc, *args: Any) -> Any:
        """Call a guest function under the instance's deadline.

        Raises PluginFault (trap, timeout, out of memory): the instance is then dead.
        """
        self._begin()
        try:
            result = func(self._store, *args)
            func.post_return(self._store)
        except wasmtime.WasmtimeError as exc:
            raise classify(self.name, exc, list(self._stderr.tail)) from exc
        finally:
            self.deadline.end()
        return result
