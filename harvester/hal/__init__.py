"""Hardware abstraction: one facade that checks grants, over a `sim` or `linux` backend."""

from harvester.hal.backend import Backend, Dht22Reading, MemoryUsage
from harvester.hal.errors import HalError, NotGranted
from harvester.hal.facade import PluginHal
from harvester.hal.factory import make_backend

__all__ = [
    "Backend",
    "Dht22Reading",
    "HalError",
    "MemoryUsage",
    "NotGranted",
    "PluginHal",
    "make_backend",
]
