"""Hardware abstraction: one facade that checks grants, over a `sim` or `linux` backend.

A backend is a bundle of capabilities (capabilities.py); see docs/hal.md.
"""

from harvester.hal.backend import BACKEND_LINUX, BACKEND_SIM, Backend
from harvester.hal.capabilities import (
    I2C,
    Buzzers,
    Capability,
    Clock,
    Dht22,
    Dht22Reading,
    DiskUsage,
    Gpio,
    LedStrips,
    MemoryUsage,
    NodeReading,
    NodeReadings,
    SystemInfo,
)
from harvester.hal.errors import (
    BackendUnavailable,
    HalError,
    HalRequestError,
    MissingCapability,
    NotGranted,
)
from harvester.hal.facade import PluginHal, needed_capabilities
from harvester.hal.factory import make_backend

__all__ = [
    "BACKEND_LINUX",
    "BACKEND_SIM",
    "I2C",
    "Backend",
    "BackendUnavailable",
    "Buzzers",
    "Capability",
    "Clock",
    "Dht22",
    "Dht22Reading",
    "DiskUsage",
    "Gpio",
    "HalError",
    "HalRequestError",
    "LedStrips",
    "MemoryUsage",
    "MissingCapability",
    "NodeReading",
    "NodeReadings",
    "NotGranted",
    "PluginHal",
    "SystemInfo",
    "make_backend",
    "needed_capabilities",
]
