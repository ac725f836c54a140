"""Build the linux backend from a node config: only the capabilities some plugin is
granted, each importing its library then, so a node without LEDs never needs rpi-ws281x."""

from __future__ import annotations

import importlib
from dataclasses import replace
from pathlib import Path

from harvester.config import NodeConfig
from harvester.hal.backend import BACKEND_LINUX, Backend
from harvester.hal.capabilities import Capability
from harvester.hal.errors import BackendUnavailable
from harvester.hal.facade import needed_capabilities
from harvester.hal.linux._library import Importer
from harvester.hal.linux.buzzer import LinuxBuzzers
from harvester.hal.linux.clock import LinuxClock
from harvester.hal.linux.dht22 import LinuxDht22Sensors
from harvester.hal.linux.gpio import LinuxGpio
from harvester.hal.linux.i2c import LinuxI2C
from harvester.hal.linux.leds import LinuxLedStrips
from harvester.hal.linux.system import LinuxSystemInfo


def linux_backend(
    config: NodeConfig,
    *,
    sysfs: Path = Path("/sys"),
    dev: Path = Path("/dev"),
    importer: Importer = importlib.import_module,
) -> Backend:
    """The node's real hardware. `sysfs`, `dev` and `importer` are for tests only.

    Raises BackendUnavailable (one line, naming the node) when a needed library is not
    installed or a controller (GPIO chip, PWM chip, LED driver) cannot be used. I2C buses
    and DHT22 sensors are found on first use; their absence is a HalError then.
    """
    needed = frozenset().union(*(needed_capabilities(p.grants) for p in config.plugins))
    hw = config.linux
    clock = LinuxClock()
    parts = Backend(name=BACKEND_LINUX, clock=clock)  # grows one part at a time
    try:
        if Capability.I2C in needed:
            parts = replace(parts, i2c=LinuxI2C(importer=importer))
        active_buzzer = any(b.kind == "active" for b in hw.buzzer)
        if Capability.GPIO in needed or (Capability.BUZZER in needed and active_buzzer):
            gpio = LinuxGpio(hw.gpio_chip, importer=importer, dev=dev)
            parts = replace(parts, gpio=gpio)
        if Capability.DHT22 in needed:
            parts = replace(parts, dht22=LinuxDht22Sensors(clock, hw.dht22, sysfs=sysfs))
        if Capability.SYSTEM_INFO in needed:
            parts = replace(parts, system=LinuxSystemInfo(importer=importer, sysfs=sysfs))
        if Capability.LEDS in needed and hw.leds:
            parts = replace(parts, leds=LinuxLedStrips(hw.leds, importer=importer))
        if Capability.BUZZER in needed and hw.buzzer:
            buzzers = LinuxBuzzers(hw.buzzer, gpio=parts.gpio, sysfs=sysfs)
            parts = replace(parts, buzzer=buzzers)
    except BackendUnavailable as exc:
        parts.close()  # what was opened before the failure
        raise BackendUnavailable(f"node {config.name!r} (backend linux): {exc}") from exc
    return parts
