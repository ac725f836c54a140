"""Simulated devices, registered by the type of their config schema.

A device module registers a factory for its schema; the sim backend builds whatever the
config lists by looking each entry's type up here, so adding a device touches neither the
backend nor this module:

    @sim_device(SimSsd1306)
    def ssd1306(config: SimSsd1306, parts: SimParts) -> Ssd1306Sim:
        sim = Ssd1306Sim(...)
        parts.i2c.bus(config.bus).attach(config.address, sim)
        return sim
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from harvester.config import SimDevice
from harvester.hal.errors import BackendUnavailable
from harvester.hal.sim.parts import SimParts

ConfigT = TypeVar("ConfigT", bound=SimDevice)
DeviceT = TypeVar("DeviceT")
DeviceFactory = Callable[[ConfigT, SimParts], DeviceT]


class SimDeviceRegistry:
    """Device factories by config type. Configure (register), then build."""

    def __init__(self) -> None:
        self._factories: dict[type[SimDevice], Callable[[Any, SimParts], object]] = {}

    def register(
        self, config_type: type[ConfigT]
    ) -> Callable[[DeviceFactory[ConfigT, DeviceT]], DeviceFactory[ConfigT, DeviceT]]:
        """Decorator: `factory(config, parts)` builds the device for a `config_type` entry and
        attaches it to `parts`. Raises ValueError if `config_type` already has a factory."""

        def add(factory: DeviceFactory[ConfigT, DeviceT]) -> DeviceFactory[ConfigT, DeviceT]:
            if config_type in self._factories:
                raise ValueError(f"{config_type.__name__} already has a simulator")
            self._factories[config_type] = factory
            return factory

        return add

    def __contains__(self, config_type: object) -> bool:
        return config_type in self._factories

    def copy(self) -> SimDeviceRegistry:
        """A registry with the same factories, to register more without changing this one."""
        other = SimDeviceRegistry()
        other._factories.update(self._factories)
        return other

    def build(self, config: SimDevice, parts: SimParts) -> object:
        """Build and attach the device `config` describes; returns the device.

        Raises BackendUnavailable when no simulator is registered for the config's type,
        or what the factory raises (BackendUnavailable when its config cannot be built).
        """
        factory = self._factories.get(type(config))
        if factory is None:
            raise BackendUnavailable(f"no simulator is registered for {type(config).__name__}")
        return factory(config, parts)


# The registry the sim backend uses; the built-in devices (devices/) register here.
SIM_DEVICES: Final = SimDeviceRegistry()
sim_device: Final = SIM_DEVICES.register
