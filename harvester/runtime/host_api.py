"""The host side of the WIT imports: a wasmtime Linker whose functions serve one plugin instance.

Each function converts WIT values to Python, calls the plugin's HAL facade (which checks
grants) and converts the answer back. A HalError becomes the WIT `hal-error` variant;
`hub-data` asks the node's HubData provider instead (runtime/hub_data_import.py).
Nothing may escape as a Python exception: wasmtime-py would keep it in a process-wide
slot shared by every thread, so every function is wrapped, and what is not a HalError
becomes an `other` result (`unavailable` for hub-data) and a log line. The one
deliberate exception is the deadline: a host call made after the instance's deadline
traps (a WasmtimeError, which passes straight through to the guest's caller), so an
instance past its time cannot touch hardware again.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import wasmtime
from wasmtime.component import Linker, LinkerInstance, Record, Variant

from harvester.config import Grants
from harvester.constants import (
    ALWAYS_LINKED,
    IFACE_BUZZER,
    IFACE_CLOCK,
    IFACE_GPIO,
    IFACE_HUB_DATA,
    IFACE_I2C,
    IFACE_LEDS,
    IFACE_LOG,
    IFACE_NODE_READINGS,
    IFACE_SYSTEM_INFO,
    WIT_PACKAGE,
    HalErrorCase,
    LogLevel,
    current_interface,
)
from harvester.hal import HalError, PluginHal
from harvester.runtime import fastcall
from harvester.runtime.deadline import CallDeadline
from harvester.runtime.hub_data import HubData
from harvester.runtime.hub_data_import import HubDataImport, unavailable_on_error
from harvester.runtime.wasi import add_wasi

log = logging.getLogger("harvester.runtime")
_LEVELS = frozenset(LogLevel)
# Host calls that end by themselves at the call's deadline (and then trap): a guest in one
# is not stuck, so the watchdog leaves it to them.
ENDS_AT_DEADLINE = frozenset({f"{IFACE_CLOCK}#sleep-ms"})


class GuestLog(Protocol):
    """Where an instance's log lines go (the node's PluginLog implements it)."""

    def plugin_said(self, level: LogLevel, message: str) -> None:
        """A line the plugin wrote (rate-limited by the receiver)."""

    def host_says(self, level: LogLevel, message: str) -> None:
        """A line the host writes about the plugin."""

    def refused(self, resource: str) -> None:
        """The host refused the plugin a resource (named)."""


def linked_interfaces(grants: Grants) -> frozenset[str]:
    """Our interfaces a plugin with these grants gets; anything else it imports is refused."""
    linked = set(ALWAYS_LINKED)
    if grants.i2c:
        linked.add(IFACE_I2C)
    if grants.gpio or grants.dht22:
        linked.add(IFACE_GPIO)
    if grants.system_info:
        linked.add(IFACE_SYSTEM_INFO)
    if grants.leds:
        linked.add(IFACE_LEDS)
    if grants.buzzer:
        linked.add(IFACE_BUZZER)
    if grants.readings:
        linked.add(IFACE_NODE_READINGS)
    if grants.hub_data:
        linked.add(IFACE_HUB_DATA)
    return frozenset(linked)


def ungranted_imports(imports: Iterable[str], grants: Grants) -> list[str]:
    """The component's imports of our package that its grants do not cover."""
    linked = linked_interfaces(grants)
    return [
        name
        for name in imports
        if name.startswith(WIT_PACKAGE + "/") and current_interface(name) not in linked
    ]


def hal_error(err: HalError) -> Variant:
    return Variant(err.wit_case, err.wit_payload())


def record(**fields: Any) -> Record:
    """A WIT record; field names use `-` as in the WIT (pass them with `_`)."""
    rec = Record()
    for name, value in fields.items():
        setattr(rec, name.replace("_", "-"), value)
    return rec


def _other(exc: Exception) -> Variant:
    return Variant(HalErrorCase.OTHER, f"host error: {type(exc).__name__}")


class _Definer:
    """Defines our host functions, each wrapped in the deadline check and error conversion."""

    def __init__(self, deadline: CallDeadline, guest_log: GuestLog) -> None:
        self._deadline = deadline
        self._log = guest_log

    def define(
        self, inst: LinkerInstance, iface: str, name: str, fn: Callable[..., Any], fallback: Any
    ) -> None:
        """Define `iface#name` as `fn`. `fallback` is `_other` for functions that return a
        result (errors become its error case), else the plain value to answer on failure."""
        qualified = f"{iface}#{name}"
        fastcall.add_func(inst, name, self._guarded(qualified, fn, fallback), qualified=qualified)

    def _guarded(self, qualified: str, fn: Callable[..., Any], fallback: Any) -> Any:
        """`fallback` answers any exception (a value, or a function of the exception); a
        HalError becomes the WIT hal-error only where the function returns a result."""
        deadline, guest_log = self._deadline, self._log
        as_result = callable(fallback)

        @functools.wraps(fn)
        def guarded(store: wasmtime.Storelike, *args: Any) -> Any:
            deadline.check(qualified)  # traps: past its time, the guest gets nothing more
            deadline.host_call = qualified
            try:
                return fn(*args)
            except wasmtime.WasmtimeError:
                raise  # a trap we meant (the deadline), not a host bug
            except HalError as exc:
                # Only a missing capability can fail these; the node warned of it at start.
                return hal_error(exc) if as_result else fallback
            except Exception as exc:  # a host bug must not become a trap in the guest
                log.exception("host function %s failed", qualified)
                guest_log.host_says(LogLevel.ERROR, f"host function {qualified} failed: {exc!r}")
                return fallback(exc) if as_result else fallback
            finally:
                deadline.host_call = None

        return guarded


def build_linker(
    engine: wasmtime.Engine,
    hal: PluginHal,
    grants: Grants,
    guest_log: GuestLog,
    deadline: CallDeadline,
    *,
    imports: Iterable[str],
    hub_data: HubData | None = None,
) -> Linker:
    """A linker for one instance: WASI as runtime/wasi.py guards it, and our interfaces.

    `imports` are the component's import names (WASI replacements are defined under
    exactly those names). Host functions serve `hal` and stop at `deadline`; `hub-data`
    (if granted) asks `hub_data`, and answers `unavailable` without one.
    """
    linker = Linker(engine)
    add_wasi(linker, imports, guest_log.refused)
    linked = linked_interfaces(grants)
    d = _Definer(deadline, guest_log)

    def sleep_ms(ms: int) -> None:
        # Never past the call's deadline, and cut short when the instance is given up.
        hal.sleep_ms(int(min(ms, deadline.remaining_ms())), wake=deadline.wake)
        deadline.check(f"{IFACE_CLOCK}#sleep-ms")

    def log_line(level: str, message: str) -> None:
        guest_log.plugin_said(LogLevel(level) if level in _LEVELS else LogLevel.INFO, message)

    with linker.root() as root:
        with root.add_instance(IFACE_LOG) as inst:
            d.define(inst, IFACE_LOG, "log", log_line, None)

        with root.add_instance(IFACE_CLOCK) as inst:
            d.define(inst, IFACE_CLOCK, "now-ms", hal.now_ms, 0)
            d.define(inst, IFACE_CLOCK, "sleep-ms", sleep_ms, None)

        if IFACE_I2C in linked:
            with root.add_instance(IFACE_I2C) as inst:
                d.define(inst, IFACE_I2C, "transfer", hal.i2c_transfer, _other)

        if IFACE_GPIO in linked:
            with root.add_instance(IFACE_GPIO) as inst:

                def read_dht22(pin: int) -> Record:
                    r = hal.read_dht22(pin)
                    return record(temperature_c=r.temperature_c, humidity_rh=r.humidity_rh)

                d.define(inst, IFACE_GPIO, "read-dht22", read_dht22, _other)
                d.define(inst, IFACE_GPIO, "read-pin", hal.read_pin, _other)
                d.define(inst, IFACE_GPIO, "write-pin", hal.write_pin, _other)

        if IFACE_SYSTEM_INFO in linked:
            with root.add_instance(IFACE_SYSTEM_INFO) as inst:

                def memory_usage() -> Record:
                    m = hal.memory_usage()
                    return record(total_bytes=m.total_bytes, used_bytes=m.used_bytes)

                no_memory = record(total_bytes=0, used_bytes=0)
                d.define(inst, IFACE_SYSTEM_INFO, "get-memory-usage", memory_usage, no_memory)
                d.define(inst, IFACE_SYSTEM_INFO, "get-cpu-usage", hal.cpu_usage_percent, 0.0)
                d.define(inst, IFACE_SYSTEM_INFO, "get-uptime", hal.uptime_s, 0)
                d.define(inst, IFACE_SYSTEM_INFO, "get-cpu-temp", hal.cpu_temp_c, _other)

                def disk_usage() -> Record:
                    u = hal.disk_usage()
                    return record(total_bytes=u.total_bytes, used_bytes=u.used_bytes)

                d.define(inst, IFACE_SYSTEM_INFO, "get-disk-usage", disk_usage, _other)

        if IFACE_LEDS in linked:
            with root.add_instance(IFACE_LEDS) as inst:
                d.define(inst, IFACE_LEDS, "pixel-count", hal.led_pixel_count, _other)
                d.define(inst, IFACE_LEDS, "show", hal.led_show, _other)

        if IFACE_BUZZER in linked:
            with root.add_instance(IFACE_BUZZER) as inst:
                d.define(inst, IFACE_BUZZER, "tone", hal.buzzer_tone, _other)
                d.define(inst, IFACE_BUZZER, "off", hal.buzzer_off, _other)

        if IFACE_NODE_READINGS in linked:
            with root.add_instance(IFACE_NODE_READINGS) as inst:

                def latest() -> list[Record]:
                    return [
                        record(
                            plugin=r.plugin,
                            metric=r.metric,
                            value=r.value,
                            unit=r.unit,
                            age_ms=r.age_ms,
                        )
                        for r in hal.latest_readings()
                    ]

                d.define(inst, IFACE_NODE_READINGS, "node-name", hal.node_name, "")
                d.define(inst, IFACE_NODE_READINGS, "latest", latest, [])

        if IFACE_HUB_DATA in linked:
            with root.add_instance(IFACE_HUB_DATA) as inst:
                for name, fn in HubDataImport(hub_data).functions().items():
                    d.define(inst, IFACE_HUB_DATA, name, fn, unavailable_on_error)
    return linker
