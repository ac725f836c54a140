"""Names shared across the host: WIT identifiers, limits and defaults.

One place for them, so a rename in wit/ is a one-line change here.
"""

from typing import Final

WIT_PACKAGE: Final = "harvester:plugin"
WIT_VERSION: Final = "1.0.0"


def wit_interface(name: str) -> str:
    """The fully qualified name of one of our WIT interfaces, as a component imports it."""
    return f"{WIT_PACKAGE}/{name}@{WIT_VERSION}"


IFACE_TYPES: Final = wit_interface("types")
IFACE_I2C: Final = wit_interface("i2c")
IFACE_GPIO: Final = wit_interface("gpio-provider")
IFACE_SYSTEM_INFO: Final = wit_interface("system-info")
IFACE_LOG: Final = wit_interface("log")
IFACE_CLOCK: Final = wit_interface("clock")
IFACE_SENSOR: Final = wit_interface("sensor")

# Interfaces every plugin may import, whatever it is granted. `types` holds only types.
ALWAYS_LINKED: Final = frozenset({IFACE_TYPES, IFACE_LOG, IFACE_CLOCK})

# Host-side limits on what a plugin may ask for in one call.
I2C_MAX_READ: Final = 4096
I2C_MAX_WRITE: Final = 4096
SLEEP_MAX_MS: Final = 1000
LOG_MAX_MESSAGE: Final = 1024
# Token bucket per plugin instance: sustained lines per second and burst size.
LOG_RATE_PER_S: Final = 20.0
LOG_BURST: Final = 100

# Epoch ticks drive per-call deadlines; one tick is this many milliseconds.
EPOCH_TICK_MS: Final = 10

# Metric names a plugin may describe: short, lowercase, safe as MQTT topic levels.
METRIC_NAME_PATTERN: Final = r"^[a-z][a-z0-9_]{0,47}$"
