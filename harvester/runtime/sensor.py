"""The `sensor` export: `init` once with the settings, `describe` once, then `poll`.

Everything the guest returns is checked here (metric names, units, counts), and its
error results are sorted into faults (the instance must go) and reported errors (the
instance is fine, the poll has no readings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wasmtime.component import Variant

from harvester.constants import (
    IFACE_SENSOR,
    METRIC_NAME_PATTERN,
    DeviceClass,
    StateClass,
)
from harvester.runtime.errors import (
    PluginContractError,
)
from harvester.runtime.guest_results import SettingValue, error_result, settings_arg

if TYPE_CHECKING:
    from harvester.runtime.plugin import PluginInstance

_METRIC_NAME = re.compile(METRIC_NAME_PATTERN)
MAX_METRICS = 64
MAX_UNIT = 16


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    device_class: DeviceClass
    state_class: StateClass


@dataclass(frozen=True)
class PluginReading:
    metric: str
    value: float


def validate_metrics(plugin: str, raw: Any) -> tuple[Metric, ...]:
    """Raises PluginContractError for a list the contract forbids."""
    if not isinstance(raw, list) or len(raw) > MAX_METRICS:
        raise PluginContractError(plugin, f"describe() must return at most {MAX_METRICS} metrics")
    metrics = []
    for rec in raw:
        name, unit = rec.name, rec.unit
        if not _METRIC_NAME.match(name):
            raise PluginContractError(
                plugin, f"metric name {name!r} must match {METRIC_NAME_PATTERN}"
            )
        if len(unit) > MAX_UNIT:
            raise PluginContractError(plugin, f"unit {unit!r} of {name!r} is too long")
        metrics.append(
            Metric(
                name,
                unit,
                DeviceClass(getattr(rec, "device-class")),
                StateClass(getattr(rec, "state-class")),
            )
        )
    if len({m.name for m in metrics}) != len(metrics):
        raise PluginContractError(plugin, "describe() repeats a metric name")
    return tuple(metrics)


class SensorExport:
    """A plugin's `sensor` interface. Every call runs under the instance's deadline.

    Raises PluginLoadError (from the instance) if a function is missing.
    """

    INTERFACE = IFACE_SENSOR

    def __init__(self, instance: PluginInstance) -> None:
        self.instance = instance
        self._init = instance.func(IFACE_SENSOR, "init")
        self._describe = instance.func(IFACE_SENSOR, "describe")
        self._poll = instance.func(IFACE_SENSOR, "poll")

    def init(self, settings: dict[str, SettingValue]) -> None:
        """Raises PluginFault, or PluginReportedError if the plugin refuses its settings."""
        result = self.instance.call(self._init, settings_arg(settings))
        if isinstance(result, Variant):
            raise error_result(self.instance.name, result)

    def describe(self) -> tuple[Metric, ...]:
        """Raises PluginFault, PluginContractError included."""
        return validate_metrics(self.instance.name, self.instance.call(self._describe))

    def poll(self) -> tuple[PluginReading, ...]:
        """One poll. Raises PluginFault (instance is dead) or PluginReportedError (it is not)."""
        result = self.instance.call(self._poll)
        if isinstance(result, Variant):
            raise error_result(self.instance.name, result)
        return tuple(PluginReading(r.metric, r.value) for r in result)
