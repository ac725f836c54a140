"""A node's own health through the `system-info` import: the metrics both board monitors
(pi4-monitor, revpi-monitor) report, in one place so they cannot drift apart.

Import this only from a plugin whose world imports `system-info`: the module binds to it.
The host's native twin (harvester/node/native_monitor.py) reports the same metrics; a test
holds the two to the same names, units and classes.

A board without a SoC temperature sensor (get-cpu-temp fails) or without a readable root
file system still reports everything else: those metrics are left out of the poll, and the
plugin says so once in the log rather than on every poll.
"""

from componentize_py_types import Err
from wit_world.imports import system_info

from harvester_sdk import log
from harvester_sdk.records import DeviceClass, StateClass, metric, reading

CPU_USAGE = "cpu_usage"
MEMORY_USED_PERCENT = "memory_used_percent"
MEMORY_USED = "memory_used"
SOC_TEMPERATURE = "soc_temperature"
UPTIME = "uptime"
DISK_USED_PERCENT = "disk_used_percent"
DISK_USED = "disk_used"

HEALTH_METRICS = (
    metric(CPU_USAGE, "%"),
    metric(MEMORY_USED_PERCENT, "%"),
    metric(MEMORY_USED, "B", DeviceClass.DATA_SIZE),
    metric(SOC_TEMPERATURE, "°C", DeviceClass.TEMPERATURE),
    metric(UPTIME, "s", DeviceClass.DURATION, StateClass.TOTAL_INCREASING),
    metric(DISK_USED_PERCENT, "%"),
    metric(DISK_USED, "B", DeviceClass.DATA_SIZE),
)

_said: set[str] = set()  # what is missing and already logged (module level: see README)


def _missing_once(what: str, err: Err) -> None:
    if what not in _said:
        _said.add(what)
        log.warn(f"{what} is not available on this node ({err.value}); reporting the rest")


def _percent(used: int, total: int) -> float:
    return 100.0 * used / total


def health_readings() -> list:
    """One reading of every health metric this node can give (see the module docstring)."""
    out = [reading(CPU_USAGE, system_info.get_cpu_usage())]
    memory = system_info.get_memory_usage()
    if memory.total_bytes > 0:  # the host answers 0 / 0 when it cannot read memory
        out.append(reading(MEMORY_USED_PERCENT, _percent(memory.used_bytes, memory.total_bytes)))
        out.append(reading(MEMORY_USED, memory.used_bytes))
    try:
        out.append(reading(SOC_TEMPERATURE, system_info.get_cpu_temp()))
    except Err as err:
        _missing_once("the SoC temperature", err)
    out.append(reading(UPTIME, system_info.get_uptime()))
    try:
        disk = system_info.get_disk_usage()
    except Err as err:
        _missing_once("the root file system's usage", err)
    else:
        if disk.total_bytes > 0:
            out.append(reading(DISK_USED_PERCENT, _percent(disk.used_bytes, disk.total_bytes)))
            out.append(reading(DISK_USED, disk.used_bytes))
    return out
