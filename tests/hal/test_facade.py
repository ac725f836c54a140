"""The HAL facade: every call checks the grant before the backend sees it."""

from __future__ import annotations

import pytest

from harvester.config import Grants, SimConfig
from harvester.hal import NotGranted, PluginHal
from harvester.hal.errors import HalRequestError, NoAcknowledge
from harvester.hal.sim.backend import SimBackend


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[str, object]] = []

    def write(self, data: bytes) -> None:
        self.messages.append(("write", data))

    def read(self, length: int) -> bytes:
        self.messages.append(("read", length))
        return bytes(range(length))


@pytest.fixture
def sim() -> SimBackend:
    return SimBackend(SimConfig(time_scale=0, dht22=[{"pin": 4, "failure_rate": 0}]))


def hal(sim: SimBackend, refusals: list[str] | None = None, **grants) -> PluginHal:
    report = refusals.append if refusals is not None else (lambda resource: None)
    return PluginHal(sim, Grants.model_validate(grants), on_refusal=report)


def test_granted_i2c_reaches_the_device_as_write_then_read(sim: SimBackend) -> None:
    device = Recorder()
    sim.bus(1).attach(0x40, device)
    got = hal(sim, i2c=[{"bus": 1, "addresses": [0x40]}]).i2c_transfer(1, 0x40, b"\x10", 3)
    assert got == b"\x00\x01\x02"
    assert device.messages == [("write", b"\x10"), ("read", 3)]


@pytest.mark.parametrize(("bus", "address"), [(1, 0x41), (0, 0x40)])
def test_ungranted_i2c_never_reaches_the_bus(sim: SimBackend, bus: int, address: int) -> None:
    device = Recorder()
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
    device = Recorder()
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
    assert 18 not in sim.pins


def test_sleep_is_capped(sim: SimBackend) -> None:
    before = sim.clock.now_ms()
    hal(sim).sleep_ms(3_600_000)
    assert sim.clock.now_ms() - before < 1_100  # one sleep is at most 1000 ms
