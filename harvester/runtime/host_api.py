"""The host side of the WIT imports: a wasmtime Linker whose functions serve one plugin.

Each function converts WIT values to Python, calls the plugin's HAL facade (which
checks grants) and converts the answer back. A HalError becomes the WIT `hal-error`
variant. Nothing may escape as a Python exception: wasmtime would turn it into a trap
and keep it in a process-wide slot shared by all threads, so every function is wrapped.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import wasmtime
from wasmtime.component import Linker, LinkerInstance, Record, Variant

from harvester.config import Grants
from harvester.constants import (
    ALWAYS_LINKED,
    IFACE_CLOCK,
    IFACE_GPIO,
    IFACE_I2C,
    IFACE_LOG,
    IFACE_SYSTEM_INFO,
    WIT_PACKAGE,
)
from harvester.hal import HalError, PluginHal
from harvester.node.plugin_log import PluginLog
from harvester.runtime import fastcall

log = logging.getLogger("harvester.runtime")
LOG_LEVELS = frozenset({"trace", "debug", "info", "warn", "error"})


def linked_interfaces(grants: Grants) -> frozenset[str]:
    """Our interfaces a plugin with these grants gets; anything else it imports is refused."""
    linked = set(ALWAYS_LINKED)
    if grants.i2c:
        linked.add(IFACE_I2C)
    if grants.gpio or grants.dht22:
        linked.add(IFACE_GPIO)
    if grants.system_info:
        linked.add(IFACE_SYSTEM_INFO)
    return frozenset(linked)


def ungranted_imports(imports: list[str], grants: Grants) -> list[str]:
    """The component's imports of our package that its grants do not cover."""
    linked = linked_interfaces(grants)
    return [name for name in imports if name.startswith(WIT_PACKAGE + "/") and name not in linked]


def hal_error(err: HalError) -> Variant:
    return Variant(err.wit_case, err.wit_payload())


def record(**fields: Any) -> Record:
    """A WIT record; field names use `-` as in the WIT (pass them with `_`)."""
    rec = Record()
    for name, value in fields.items():
        setattr(rec, name.replace("_", "-"), value)
    return rec


def _guarded(
    plugin_log: PluginLog, name: str, fallback: Any
) -> Callable[[Callable[..., Any]], Any]:
    """Turn HalError into its variant, and any other exception into `fallback` + a log line."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def guarded(store: wasmtime.Storelike, *args: Any) -> Any:
            try:
                return fn(*args)
            except HalError as exc:
                return hal_error(exc)
            except Exception as exc:  # a host bug must not become a trap in the guest
                log.exception("host function %s failed", name)
                plugin_log.host_says("error", f"host function {name} failed: {exc!r}")
                return fallback(exc) if callable(fallback) else fallback

        return guarded

    return wrap


def _other(exc: Exception) -> Variant:
    return Variant("other", f"host error: {type(exc).__name__}")


def build_linker(
    engine: wasmtime.Engine, hal: PluginHal, grants: Grants, plugin_log: PluginLog
) -> Linker:
    """A linker with WASI (no files, sockets or environment granted) and our interfaces."""
    linker = Linker(engine)
    linker.add_wasip2()
    linked = linked_interfaces(grants)
    g = functools.partial(_guarded, plugin_log)

    def define(inst: LinkerInstance, name: str, fn: Callable[..., Any], fallback: Any) -> None:
        fastcall.add_func(inst, name, g(name, fallback)(fn))

    with linker.root() as root:
        with root.add_instance(IFACE_LOG) as inst:

            def log_line(level: str, message: str) -> None:
                plugin_log.plugin_said(level if level in LOG_LEVELS else "info", message)  # type: ignore[arg-type]

            define(inst, "log", log_line, None)

        with root.add_instance(IFACE_CLOCK) as inst:
            define(inst, "now-ms", hal.now_ms, 0)
            define(inst, "sleep-ms", hal.sleep_ms, None)

        if IFACE_I2C in linked:
            with root.add_instance(IFACE_I2C) as inst:
                define(inst, "transfer", hal.i2c_transfer, _other)

        if IFACE_GPIO in linked:
            with root.add_instance(IFACE_GPIO) as inst:

                def read_dht22(pin: int) -> Record:
                    r = hal.read_dht22(pin)
                    return record(temperature_c=r.temperature_c, humidity_rh=r.humidity_rh)

                define(inst, "read-dht22", read_dht22, _other)
                define(inst, "read-pin", hal.read_pin, _other)
                define(inst, "write-pin", hal.write_pin, _other)

        if IFACE_SYSTEM_INFO in linked:
            with root.add_instance(IFACE_SYSTEM_INFO) as inst:

                def memory_usage() -> Record:
                    m = hal.memory_usage()
                    return record(total_bytes=m.total_bytes, used_bytes=m.used_bytes)

                define(inst, "get-memory-usage", memory_usage, record(total_bytes=0, used_bytes=0))
                define(inst, "get-cpu-usage", hal.cpu_usage_percent, 0.0)
                define(inst, "get-uptime", hal.uptime_s, 0)
                define(inst, "get-cpu-temp", hal.cpu_temp_c, _other)
    return linker
