"""Sim devices registered by config type: a new device adds itself, SimBackend unchanged."""

from __future__ import annotations

from typing import Literal

import pytest

from harvester.config import Grants, SimBme680, SimConfig, SimDevice, SimDht22, SimI2CDevice
from harvester.config.base import Pin
from harvester.hal import BackendUnavailable, PluginHal
from harvester.hal.sim.backend import SimBackend
from harvester.hal.sim.parts import SimParts
from harvester.hal.sim.registry import SIM_DEVICES, SimDeviceRegistry


# --- a device type that exists only in this test: an EEPROM on I2C and a relay on a pin ---
class SimEeprom(SimI2CDevice):
    device: Literal["eeprom"] = "eeprom"
    address: int = 0x50
    size: int = 16


class EepromSim:
    def __init__(self, size: int) -> None:
        self.cells = bytearray(range(size))
        self.pointer = 0

    def write(self, data: bytes) -> None:
        self.pointer = data[0]

    def read(self, length: int) -> bytes:
        return bytes(self.cells[self.pointer : self.pointer + length])


class SimRelay(SimDevice):
    pin: Pin


class NodeWithMore(SimConfig):
    """How a new kind of device list slots into [sim]: a field; devices() finds it."""

    eeproms: tuple[SimEeprom, ...] = ()
    relays: tuple[SimRelay, ...] = ()


@pytest.fixture
def registry() -> SimDeviceRegistry:
    registry = SIM_DEVICES.copy()  # the built-ins, plus what this test registers

    @registry.register(SimEeprom)
    def eeprom(config: SimEeprom, parts: SimParts) -> EepromSim:
        sim = EepromSim(config.size)
        parts.i2c.bus(config.bus).attach(config.address, sim)
        return sim

    @registry.register(SimRelay)
    def relay(config: SimRelay, parts: SimParts) -> None:
        parts.gpio.write(config.pin, True)  # a relay that pulls its pin high

    return registry


def test_a_registered_device_is_built_from_the_config_and_reachable(
    registry: SimDeviceRegistry,
) -> None:
    config = NodeWithMore(time_scale=0, eeproms=[{"size": 32}], relays=[{"pin": 22}])
    backend = SimBackend(config, registry=registry)
    assert isinstance(backend.bus(1).devices[0x50], EepromSim)
    assert backend.gpio.read(22) is True
    hal = PluginHal(backend, Grants(i2c=[{"bus": 1, "addresses": [0x50]}]))
    assert hal.i2c_transfer(1, 0x50, b"\x04", 3) == b"\x04\x05\x06"


def test_built_in_devices_sit_beside_the_new_ones(registry: SimDeviceRegistry) -> None:
    config = NodeWithMore(
        time_scale=0,
        i2c=[{"device": "bme680"}],
        dht22=[{"pin": 4}],
        eeproms=[{"address": 0x51}],
    )
    backend = SimBackend(config, registry=registry)
    assert set(backend.bus(1).devices) == {0x77, 0x51}
    assert backend.dht22[4] is not None


def test_the_built_in_devices_register_themselves() -> None:
    assert SimBme680 in SIM_DEVICES
    assert SimDht22 in SIM_DEVICES


def test_a_copy_leaves_the_original_alone(registry: SimDeviceRegistry) -> None:
    assert SimEeprom in registry
    assert SimEeprom not in SIM_DEVICES


def test_a_device_without_a_simulator_is_named() -> None:
    config = NodeWithMore(time_scale=0, relays=[{"pin": 22}])
    with pytest.raises(BackendUnavailable, match="no simulator is registered for SimRelay"):
        SimBackend(config)  # the shared registry knows no SimRelay


def test_a_type_takes_one_simulator(registry: SimDeviceRegistry) -> None:
    with pytest.raises(ValueError, match="SimRelay already has a simulator"):
        registry.register(SimRelay)(lambda config, parts: None)
