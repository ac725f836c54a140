"""SimI2C and SimI2CBus: devices by address, write-then-read transactions, NACKs."""

from __future__ import annotations

import pytest

from harvester.hal.errors import NackSource, NoAcknowledge
from harvester.hal.sim.i2c import SimI2C
from tests.conftest import RecordingDevice


def test_a_transfer_is_one_write_then_one_read() -> None:
    i2c, device = SimI2C(), RecordingDevice()
    i2c.bus(1).attach(0x40, device)
    assert i2c.transfer(1, 0x40, b"\x10\x20", 3) == b"\x00\x01\x02"
    assert device.messages == [("write", b"\x10\x20"), ("read", 3)]
    assert i2c.bus(1).transactions == 1


def test_empty_messages_are_left_out() -> None:
    i2c, device = SimI2C(), RecordingDevice()
    i2c.bus(1).attach(0x40, device)
    assert i2c.transfer(1, 0x40, b"", 2) == b"\x00\x01"
    assert i2c.transfer(1, 0x40, b"\x07", 0) == b""
    assert device.messages == [("read", 2), ("write", b"\x07")]


def test_buses_are_separate() -> None:
    i2c, on_zero = SimI2C(), RecordingDevice()
    i2c.bus(0).attach(0x40, on_zero)
    with pytest.raises(NoAcknowledge, match="no device at 0x40 on i2c bus 1"):
        i2c.bus(1).transfer(0x40, b"\x00", 1)
    assert on_zero.messages == []
    assert set(i2c.buses) == {0, 1}


def test_an_absent_bus_or_device_is_a_nack_on_the_address() -> None:
    i2c = SimI2C()
    with pytest.raises(NoAcknowledge, match="i2c bus 3 does not exist") as err:
        i2c.transfer(3, 0x40, b"\x00", 1)
    assert err.value.source is NackSource.ADDRESS
    assert 3 not in i2c.buses  # a failed transfer does not make the bus
    i2c.bus(3)
    with pytest.raises(NoAcknowledge) as err:
        i2c.transfer(3, 0x40, b"\x00", 1)
    assert err.value.source is NackSource.ADDRESS


def test_an_address_takes_one_device() -> None:
    i2c = SimI2C()
    i2c.bus(1).attach(0x40, RecordingDevice())
    with pytest.raises(ValueError, match="bus 1: address 0x40 is taken"):
        i2c.bus(1).attach(0x40, RecordingDevice())


def test_devices_are_looked_up_by_address_read_only() -> None:
    i2c, device = SimI2C(), RecordingDevice()
    i2c.bus(1).attach(0x40, device)
    assert i2c.bus(1).devices[0x40] is device
    with pytest.raises(TypeError):
        i2c.bus(1).devices[0x41] = device  # type: ignore[index]
