"""Names shared across the host: WIT identifiers, limits and defaults.

One place for them, so a rename in wit/ is a one-line change here. The enums mirror
the WIT enums and variant cases (tests/test_constants.py checks them against wit/).
"""

import re
from enum import StrEnum
from typing import Final

WIT_PACKAGE: Final = "harvester:plugin"
WIT_VERSION: Final = "1.2.0"


def wit_interface(name: str) -> str:
    """The fully qualified name of one of our WIT interfaces, as a component imports it."""
    return f"{WIT_PACKAGE}/{name}@{WIT_VERSION}"


_OUR_NAME = re.compile(rf"^{re.escape(WIT_PACKAGE)}/([a-z][a-z0-9-]*)@(\d+)\.(\d+)\.(\d+)$")
_MAJOR, _MINOR = (int(part) for part in WIT_VERSION.split(".")[:2])


def current_interface(name: str) -> str:
    """`name` as this host knows it: one of our interfaces at a version this host serves
    (same major, minor not newer: 1.0 components keep working) becomes its current name;
    anything else (WASI, a newer minor, another major) comes back unchanged, and so is
    not one of ours. wasmtime's linker does the same semver match when it links."""
    match = _OUR_NAME.match(name)
    if match is None:
        return name
    iface, major, minor = match.group(1), int(match.group(2)), int(match.group(3))
    return wit_interface(iface) if major == _MAJOR and minor <= _MINOR else name


IFACE_TYPES: Final = wit_interface("types")
IFACE_I2C: Final = wit_interface("i2c")
IFACE_GPIO: Final = wit_interface("gpio-provider")
IFACE_SYSTEM_INFO: Final = wit_interface("system-info")
IFACE_LOG: Final = wit_interface("log")
IFACE_CLOCK: Final = wit_interface("clock")
IFACE_SENSOR: Final = wit_interface("sensor")
IFACE_LEDS: Final = wit_interface("leds")
IFACE_BUZZER: Final = wit_interface("buzzer")
IFACE_NODE_READINGS: Final = wit_interface("node-readings")
IFACE_ACTUATOR: Final = wit_interface("actuator")
IFACE_HTTP_HANDLER: Final = wit_interface("http-handler")
IFACE_HUB_DATA: Final = wit_interface("hub-data")

# Interfaces every plugin may import, whatever it is granted. `types` holds only types.
ALWAYS_LINKED: Final = frozenset({IFACE_TYPES, IFACE_LOG, IFACE_CLOCK})


class LogLevel(StrEnum):
    """`log.level` in wit/host.wit; also the level of every line the host writes."""

    TRACE = "trace"
    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


class HalErrorCase(StrEnum):
    """The cases of `types.hal-error`."""

    BUS = "bus"
    ARBITRATION_LOSS = "arbitration-loss"
    NO_ACKNOWLEDGE = "no-acknowledge"
    OVERRUN = "overrun"
    TIMEOUT = "timeout"
    NOT_GRANTED = "not-granted"
    OTHER = "other"


class SensorErrorCase(StrEnum):
    """The cases of `sensor.sensor-error`."""

    HAL = "hal"
    NO_DEVICE = "no-device"
    INVALID_DATA = "invalid-data"
    BAD_SETTING = "bad-setting"
    OUT_OF_MEMORY = "out-of-memory"
    INTERNAL = "internal"


class CommandErrorCase(StrEnum):
    """The cases of `actuator.command-error`."""

    UNKNOWN_COMMAND = "unknown-command"
    BAD_ARGUMENT = "bad-argument"
    HAL = "hal"
    BUSY = "busy"
    BAD_SETTING = "bad-setting"
    OUT_OF_MEMORY = "out-of-memory"
    INTERNAL = "internal"


class ValueKind(StrEnum):
    """`actuator.value-kind`, also the case names of `actuator.value`."""

    FLAG = "flag"
    INTEGER = "integer"
    NUMBER = "number"
    TEXT = "text"


class DeviceClass(StrEnum):
    """`sensor.device-class`, after Home Assistant's sensor device classes."""

    NONE = "none"
    TEMPERATURE = "temperature"
    HUMIDITY = "humidity"
    PRESSURE = "pressure"
    GAS_RESISTANCE = "gas-resistance"
    POWER_FACTOR = "power-factor"
    VOLTAGE = "voltage"
    CURRENT = "current"
    DURATION = "duration"
    DATA_SIZE = "data-size"
    FREQUENCY = "frequency"


class StateClass(StrEnum):
    """`sensor.state-class`, after Home Assistant's state classes."""

    MEASUREMENT = "measurement"
    TOTAL = "total"
    TOTAL_INCREASING = "total-increasing"


# The native (not sandboxed) health service's name on the event bus: it reports as if it
# were a plugin of this name (harvester/node/native_monitor.py).
NATIVE_MONITOR: Final = "pizero-monitor"

# Host-side limits on what a plugin may ask for in one call.
I2C_MAX_READ: Final = 4096
I2C_MAX_WRITE: Final = 4096
SLEEP_MAX_MS: Final = 1000
BUZZER_MAX_MS: Final = 10_000
BUZZER_MIN_HZ: Final = 20
BUZZER_MAX_HZ: Final = 20_000
LED_MAX_PIXELS: Final = 1024
LED_MAX_STRIPS: Final = 4
LOG_MAX_MESSAGE: Final = 1024
# Token bucket per plugin instance: sustained lines per second and burst size.
LOG_RATE_PER_S: Final = 20.0
LOG_BURST: Final = 100

# The longest per-call deadline a node config may give a plugin.
MAX_CALL_TIMEOUT_MS: Final = 60_000
# Epoch ticks drive per-call deadlines; one tick is this many milliseconds.
EPOCH_TICK_MS: Final = 10
# A call blocked where the epoch cannot reach it (inside a host call) is abandoned this
# long after its deadline: the plugin is faulted and its thread left to finish alone.
ABANDON_GRACE_MS: Final = 50
# Stopping a node waits this long for plugin threads before abandoning them.
STOP_WAIT_S: Final = 0.5

# Metric names a plugin may describe: short, lowercase, safe as MQTT topic levels.
METRIC_NAME_PATTERN: Final = r"^[a-z][a-z0-9_]{0,47}$"
# Command names: `device.action`, as MQTT-safe as metric names.
COMMAND_NAME_PATTERN: Final = r"^[a-z][a-z0-9_]{0,23}\.[a-z][a-z0-9_]{0,23}$"
PARAMETER_NAME_PATTERN: Final = r"^[a-z][a-z0-9_]{0,31}$"

# What the host accepts from an HTTP handler plugin (runtime/http.py) and hands it.
HTTP_MAX_HEADERS: Final = 64
HTTP_MAX_HEADER_VALUE: Final = 8192
HTTP_MAX_RESPONSE_BODY: Final = 4 * 1024 * 1024
HTTP_MAX_REQUEST_BODY: Final = 64 * 1024
# The largest answer a hub-data function hands a plugin, in bytes of JSON text.
HUB_DATA_MAX_ANSWER: Final = 4 * 1024 * 1024
HUB_DATA_MAX_LIMIT: Final = 1000
