"""The `linux` backend: real hardware through the kernel's interfaces (see docs/hal.md).

Each capability is one module and imports its library only when built, so this package
imports anywhere.
"""

from harvester.hal.linux.backend import linux_backend
from harvester.hal.linux.buzzer import LinuxBuzzers, PwmChannel
from harvester.hal.linux.clock import LinuxClock
from harvester.hal.linux.dht22 import LinuxDht22Sensors
from harvester.hal.linux.gpio import LinuxGpio
from harvester.hal.linux.i2c import LinuxI2C
from harvester.hal.linux.leds import LinuxLedStrips
from harvester.hal.linux.system import LinuxSystemInfo

__all__ = [
    "LinuxBuzzers",
    "LinuxClock",
    "LinuxDht22Sensors",
    "LinuxGpio",
    "LinuxI2C",
    "LinuxLedStrips",
    "LinuxSystemInfo",
    "PwmChannel",
    "linux_backend",
]
