"""The HAL facade: grants first, then the node's capabilities, then the backend."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from harvester.config import Grants, SimConfig
from harvester.constants import SLEEP_MAX_MS
from harvester.hal import Backend, Capability, MissingCapability, NotGranted, PluginHal
from harvester.hal.errors import HalRequestError, NoAcknowledge
from harvester.hal.sim.backend import SimBackend
from harvester.hal.sim.clock import SimClock
from tests.conftest import RecordingDevice


@pytest.fixture
def sim() -> SimBackend:
    return SimBackend(SimConfig(time_scale=0, dht22=[{"pin": 4, "failure_rate": 0}]))


def hal(backend: Backend, refusals: list[str] | None = None, **grants: Any) -> PluginHal:
    report = refusals.append if refusals is not None else (lambda resource: None)
    return PluginHal(backend, Grants.model_validate(grants), on_refusal=report)


def bare() -> Backend:
    """A node with a clock and nothing else."""
    return Backend(name="bare", clock=SimClock(time_scale=0))


def test_granted_i2c_reaches_the_device_as_write_then_read(sim: SimBackend) -> None:
    device = RecordingDevice()
    sim.bus(1).attach(0x40, device)
    got = hal(sim, i2c=[{"bus": 1, "addresses": [0x40]}]).i2c_transfer(1, 0x40, b"\x10", 3)
    assert got == b"\x00\x01\x02"
    assert device.messages == [("write", b"\x10"), ("read", 3)]


@pytest.mark.parametrize(("bus", "address"), [(1, 0x41), (0, 0x40)])
def test_ungranted_i2c_never_reaches_the_bus(sim: SimBackend, bus: int, address: int) -> None:
    device = RecordingDevice()
    sim.bus(1).attach(0x41, device)
    sim.bus(0).attach(0x40, device)
    refusals: list[str] = []
    h = hal(sim, refusals, i2c=[{"bus": 1, "addresses": [0x40]}])
    with pytest.raises(NotGranted) as err:
        h.i2c_transfer(bus, address, b"\x00", 1)
    assert err.value.resource == f"i2c bus {bus} address {address:#04x}"
    assert refusals == [err.value.resource]  # reported to the plugin's log
    assert device.messages == []


def test_oversized_requests_are_refused_before_the_bus(sim: SimBackend) -> None:
    device = RecordingDevice()
    sim.bus(1).attach(0x40, device)
    h = hal(sim, i2c=[{"bus": 1, "addresses": [0x40]}])
    with pytest.raises(HalRequestError, match="read of 5000 bytes exceeds the limit of 4096"):
        h.i2c_transfer(1, 0x40, b"", 5000)
    with pytest.raises(HalRequestError, match="write of 5000 bytes"):
        h.i2c_transfer(1, 0x40, bytes(5000), 0)
    assert device.messages == []


def test_an_absent_device_is_a_nack_on_the_address(sim: SimBackend) -> None:
    with pytest.raises(NoAcknowledge) as err:
        hal(sim, i2c=[{"bus": 1, "addresses": [0x40]}]).i2c_transfer(1, 0x40, b"\x00", 1)
    assert err.value.wit_payload() == "address"


def test_gpio_and_dht22_check_their_own_grants(sim: SimBackend) -> None:
    h = hal(sim, gpio=[17], dht22=[4])
    h.write_pin(17, True)
    assert h.read_pin(17) is True
    assert h.read_dht22(4).temperature_c == pytest.approx(21.0, abs=0.5)
    with pytest.raises(NotGranted, match="gpio 18"):
        h.write_pin(18, True)
    with pytest.raises(NotGranted, match="dht22 on gpio 17"):
        h.read_dht22(17)  # a GPIO grant is not a DHT22 grant
    assert 18 not in sim.gpio.levels


def test_system_info_comes_from_the_backend(sim: SimBackend) -> None:
    h = hal(sim, system_info=True)
    assert h.memory_usage().total_bytes > h.memory_usage().used_bytes > 0
    assert 0 <= h.cpu_usage_percent() <= 100
    assert h.uptime_s() >= 0
    assert h.cpu_temp_c() == pytest.approx(48.0, abs=2)


@pytest.mark.parametrize(
    ("call", "capability"),
    [
        (lambda h: h.i2c_transfer(1, 0x40, b"\x00", 1), Capability.I2C),
        (lambda h: h.read_pin(17), Capability.GPIO),
        (lambda h: h.write_pin(17, True), Capability.GPIO),
        (lambda h: h.read_dht22(4), Capability.DHT22),
        (lambda h: h.memory_usage(), Capability.SYSTEM_INFO),
        (lambda h: h.cpu_usage_percent(), Capability.SYSTEM_INFO),
        (lambda h: h.uptime_s(), Capability.SYSTEM_INFO),
        (lambda h: h.cpu_temp_c(), Capability.SYSTEM_INFO),
    ],
)
def test_granted_hardware_the_node_lacks_is_named(call: Any, capability: Capability) -> None:
    h = hal(bare(), i2c=[{"bus": 1, "addresses": [0x40]}], gpio=[17], dht22=[4], system_info=True)
    with pytest.raises(MissingCapability) as err:
        call(h)
    assert err.value.capability is capability
    assert (err.value.wit_case, err.value.wit_payload()) == (
        "other",
        f"this node has no {capability.value}",
    )


def test_the_grant_is_checked_before_the_capability() -> None:
    refusals: list[str] = []
    with pytest.raises(NotGranted):
        hal(bare(), refusals).i2c_transfer(1, 0x40, b"\x00", 1)
    assert refusals == ["i2c bus 1 address 0x40"]


def test_missing_capabilities_are_what_is_granted_but_absent(sim: SimBackend) -> None:
    grants = {"i2c": [{"bus": 1, "addresses": [0x40]}], "dht22": [4], "system_info": True}
    assert hal(bare(), **grants).missing_capabilities == {
        Capability.I2C,
        Capability.DHT22,
        Capability.SYSTEM_INFO,
    }
    assert hal(bare()).missing_capabilities == set()
    assert hal(sim, **grants).missing_capabilities == set()


def test_the_clock_needs_no_grant(sim: SimBackend) -> None:
    h = hal(sim)
    before = h.now_ms()
    h.sleep_ms(250)
    assert h.now_ms() - before >= 250


def test_sleep_is_capped(sim: SimBackend) -> None:
    before = sim.clock.now_ms()
    hal(sim).sleep_ms(3_600_000)
    assert sim.clock.now_ms() - before < SLEEP_MAX_MS + 100


def test_sleep_hands_the_wake_event_to_the_clock(sim: SimBackend) -> None:
    wake = threading.Event()
    wake.set()
    before = sim.clock.elapsed_ms()
    hal(sim).sleep_ms(500, wake)
    assert sim.clock.elapsed_ms() - before < 500  # a set wake: no virtual time slept
