"""LinuxI2C against an object with smbus2's interface, using smbus2's real i2c_msg."""

from __future__ import annotations

import errno
import threading

import pytest
from smbus2 import i2c_msg

from harvester.hal.errors import (
    ArbitrationLoss,
    BusError,
    HalError,
    HalTimeout,
    NackSource,
    NoAcknowledge,
)
from harvester.hal.linux.i2c import LinuxI2C
from tests.hal.linux.fakes import FakeSMBus

I2C_M_RD = 1


def make(answer: bytes = b"", fail: OSError | None = None) -> tuple[LinuxI2C, list[FakeSMBus]]:
    opened: list[FakeSMBus] = []

    def open_bus(n: int) -> FakeSMBus:
        bus = FakeSMBus(n, answer, fail)
        opened.append(bus)
        return bus

    return LinuxI2C(open_bus=open_bus, i2c_msg=i2c_msg), opened


def test_write_then_read_is_one_combined_transaction() -> None:
    i2c, opened = make(answer=b"\x61")
    assert i2c.transfer(1, 0x77, b"\xd0", 1) == b"\x61"
    (bus,) = opened
    assert bus.bus == 1
    # One i2c_rdwr call holding both messages: the kernel sends a repeated start between.
    assert bus.transactions == [[(0, 0x77, b"\xd0"), (I2C_M_RD, 0x77, b"\x61")]]


def test_write_only_and_read_only() -> None:
    i2c, opened = make(answer=b"\x01\x02\x03")
    assert i2c.transfer(1, 0x3C, b"\x00\xaf", 0) == b""
    assert i2c.transfer(1, 0x3C, b"", 3) == b"\x01\x02\x03"
    assert opened[0].transactions == [[(0, 0x3C, b"\x00\xaf")], [(I2C_M_RD, 0x3C, b"\x01\x02\x03")]]


def test_nothing_to_write_or_read_is_a_zero_length_write_probe() -> None:
    i2c, opened = make()
    assert i2c.transfer(1, 0x50, b"", 0) == b""
    assert opened[0].transactions == [[(0, 0x50, b"")]]


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (errno.ENXIO, NoAcknowledge),
        (errno.EREMOTEIO, NoAcknowledge),
        (errno.ETIMEDOUT, HalTimeout),
        (errno.EAGAIN, ArbitrationLoss),
        (errno.EIO, BusError),
        (errno.EBUSY, BusError),
    ],
)
def test_each_errno_is_its_hal_error(code: int, error: type[HalError]) -> None:
    i2c, _ = make(fail=OSError(code, "kernel says no"))
    with pytest.raises(HalError) as err:
        i2c.transfer(1, 0x77, b"\xd0", 1)
    assert type(err.value) is error
    assert "i2c-1 address 0x77" in str(err.value)
    assert errno.errorcode[code] in str(err.value)
    if error is NoAcknowledge:
        assert isinstance(err.value, NoAcknowledge)
        assert err.value.source is NackSource.ADDRESS
        assert err.value.wit_payload() == "address"


def test_another_errno_is_a_plain_hal_error_naming_it() -> None:
    i2c, _ = make(fail=OSError(errno.EPROTO, "Protocol error"))
    with pytest.raises(HalError) as err:
        i2c.transfer(1, 0x77, b"\xd0", 1)
    assert type(err.value) is HalError
    assert err.value.wit_case == "other"
    assert str(err.value) == "i2c-1 address 0x77: Protocol error (EPROTO)"


def test_a_missing_bus_is_no_acknowledge_and_the_log_says_why_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def absent(n: int) -> FakeSMBus:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory")

    i2c = LinuxI2C(open_bus=absent, i2c_msg=i2c_msg)
    for _ in range(3):
        with pytest.raises(NoAcknowledge) as err:
            i2c.transfer(3, 0x77, b"\xd0", 1)
        assert err.value.source is NackSource.ADDRESS
    assert str(err.value).startswith("/dev/i2c-3 does not exist: enable it")
    assert "\n" not in str(err.value)
    # The plugin sees only no-acknowledge(address): the node's log says why, once.
    assert [r.getMessage() for r in caplog.records] == [str(err.value)]


def test_no_permission_names_the_group() -> None:
    def denied(n: int) -> FakeSMBus:
        raise PermissionError(errno.EACCES, "Permission denied")

    with pytest.raises(HalError, match=r"permission denied on /dev/i2c-1: .* group i2c"):
        LinuxI2C(open_bus=denied, i2c_msg=i2c_msg).transfer(1, 0x77, b"\xd0", 1)


def test_one_open_bus_per_number_shared_until_close() -> None:
    i2c, opened = make(answer=b"\x00")
    for _ in range(3):
        i2c.transfer(1, 0x77, b"\xd0", 1)
        i2c.transfer(0, 0x50, b"\x00", 1)
    assert [b.bus for b in opened] == [1, 0]
    assert [len(b.transactions) for b in opened] == [3, 3]
    i2c.close()
    assert all(b.closed for b in opened)
    i2c.transfer(1, 0x77, b"\xd0", 1)  # a use after close opens the bus again
    assert [b.bus for b in opened] == [1, 0, 1] and not opened[2].closed


class OverlapDetector:
    """Inside a transaction, waits a little for another thread to come in too; records how
    many are ever inside at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.lock = threading.Lock()
        self.overlap = threading.Event()

    def hold(self) -> None:
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
            if self.inside > 1:
                self.overlap.set()
        self.overlap.wait(0.01)  # a window for another thread to come in, if it can
        with self.lock:
            self.inside -= 1
            if not self.inside:
                self.overlap.clear()


def run_two_threads(transfer: object) -> None:
    start = threading.Barrier(2)

    def worker(address: int) -> None:
        start.wait()
        for _ in range(10):
            transfer(address)  # type: ignore[operator]

    threads = [threading.Thread(target=worker, args=(a,)) for a in (0x76, 0x77)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_two_plugins_never_interleave_a_transaction_on_one_bus() -> None:
    detector = OverlapDetector()
    i2c, opened = make(answer=b"\x00")
    i2c.transfer(1, 0x77, b"\xd0", 1)
    opened[0].hold = detector.hold
    run_two_threads(lambda address: i2c.transfer(1, address, b"\xd0", 1))
    assert detector.most == 1
    assert len(opened[0].transactions) == 21


def test_the_overlap_detector_sees_unserialised_calls() -> None:
    # The same two threads straight on the fake bus, without LinuxI2C's lock: the
    # detector must see them overlap, or the test above could not fail.
    detector = OverlapDetector()
    bus = FakeSMBus(1, b"\x00")
    bus.hold = detector.hold
    run_two_threads(lambda address: bus.i2c_rdwr(i2c_msg.write(address, b"\xd0")))
    assert detector.most == 2
