"""What every export shares at the boundary: settings going in, error results coming out.

`sensor-error` and `command-error` are different variants with the same meaning for the
cases the host acts on (`hal`, `out-of-memory`, `internal`; tests/test_constants.py holds
both to wit/), so one function sorts either into a fault or a reported error.
"""

from __future__ import annotations

from wasmtime.component import Record, Variant

from harvester.config.model import SettingValue
from harvester.constants import SensorErrorCase
from harvester.runtime.errors import (
    PluginCrashed,
    PluginFault,
    PluginOutOfMemory,
    PluginReportedError,
)
from harvester.runtime.host_api import record

__all__ = ["SettingValue", "error_result", "setting_text", "settings_arg"]


def error_result(plugin: str, err: Variant) -> PluginReportedError | PluginFault:
    """An export's error result: `out-of-memory` and `internal` are faults (the instance
    must go), anything else a reported error (the instance is fine)."""
    if err.tag == SensorErrorCase.OUT_OF_MEMORY:
        return PluginOutOfMemory(plugin, "guest reported MemoryError")
    if err.tag == SensorErrorCase.INTERNAL:
        return PluginCrashed(plugin, f"unexpected exception: {err.payload}")
    if err.tag == SensorErrorCase.HAL and isinstance(err.payload, Variant):
        hal = err.payload
        text = hal.tag if hal.payload is None else f"{hal.tag}: {hal.payload}"
        return PluginReportedError(plugin, SensorErrorCase.HAL, text)
    return PluginReportedError(plugin, err.tag, str(err.payload))


def setting_text(value: SettingValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def settings_arg(settings: dict[str, SettingValue]) -> list[Record]:
    """The node config's settings as the `list<setting>` an export's `init` takes."""
    return [record(key=k, value=setting_text(v)) for k, v in settings.items()]
