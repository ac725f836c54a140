"""LinuxDht22Sensors against a sysfs tree shaped as the dht11 overlay and driver leave it."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

import pytest

from harvester.config import LinuxDht22
from harvester.hal.capabilities import Dht22Reading
from harvester.hal.errors import HalError, HalTimeout
from harvester.hal.linux.dht22 import (
    MIN_INTERVAL_MS,
    RETRY_GAP_MS,
    LinuxDht22Sensors,
    declared_pin,
)
from tests.hal.linux.fakes import FakeClock, make_dht11_device

DRIVER_TIMEOUT_MS = 1000  # dht11.c waits HZ for the sensor's edges before ETIMEDOUT


class Driver:
    """Reads sysfs attributes as the dht11 driver answers them: the values, or the errnos
    queued in `failures` (one per value read), counting the reads of values."""

    def __init__(
        self, failures: Iterator[int] | None = None, clock: FakeClock | None = None
    ) -> None:
        self.failures = failures or iter(())
        self.clock = clock
        self.value_reads = 0

    def __call__(self, path: Path) -> str:
        if path.name != "name":
            self.value_reads += 1
            code = next(self.failures, None)
            if code == errno.ETIMEDOUT and self.clock is not None:
                self.clock.now += DRIVER_TIMEOUT_MS  # the driver waited for edges in vain
            if code is not None:
                raise OSError(code, "driver error")
        return path.read_text()


def test_the_device_is_found_by_the_pin_in_its_device_tree_node(tmp_path: Path) -> None:
    make_dht11_device(tmp_path, 0, 4, temp_milli=21_300, humidity_milli=48_700)
    make_dht11_device(tmp_path, 1, 17, temp_milli=-5_100, humidity_milli=90_000)
    sensors = LinuxDht22Sensors(FakeClock(), sysfs=tmp_path)
    assert sensors.read(17) == Dht22Reading(-5.1, 90.0)
    assert sensors.read(4) == Dht22Reading(21.3, 48.7)


def test_without_gpios_the_unit_address_names_the_pin(tmp_path: Path) -> None:
    device = make_dht11_device(tmp_path, 0, 22, gpios=False, name="dht11")
    assert declared_pin(device) == 22


def test_other_iio_devices_are_ignored(tmp_path: Path) -> None:
    make_dht11_device(tmp_path, 0, 4, name="bme280")
    with pytest.raises(HalError) as err:
        LinuxDht22Sensors(FakeClock(), sysfs=tmp_path).read(4)
    assert str(err.value) == (
        f"dht22 on gpio 4: no dht11 IIO device under {tmp_path / 'bus/iio/devices'}"
        " (config.txt: dtoverlay=dht11,gpiopin=4; NixOS: hardware.deviceTree.overlays)"
    )


def test_an_explicit_device_is_used_for_its_pin(tmp_path: Path) -> None:
    make_dht11_device(tmp_path, 3, 9, temp_milli=30_000, humidity_milli=20_000, gpios=False,
                      name="dht11")  # fmt: skip
    config = [LinuxDht22(pin=5, iio_device="iio:device3")]
    assert LinuxDht22Sensors(FakeClock(), config, sysfs=tmp_path).read(5) == (30.0, 20.0)
    missing = [LinuxDht22(pin=5, iio_device="iio:device8")]
    with pytest.raises(HalError, match="iio:device8 does not exist"):
        LinuxDht22Sensors(FakeClock(), missing, sysfs=tmp_path).read(5)


def test_a_failed_read_is_retried_after_the_gap(tmp_path: Path) -> None:
    make_dht11_device(tmp_path, 0, 4)
    clock = FakeClock()
    driver = Driver(iter([errno.EIO]))
    reading = LinuxDht22Sensors(clock, sysfs=tmp_path, read_attr=driver).read(4)
    assert reading == Dht22Reading(21.3, 48.7)
    assert clock.sleeps == [RETRY_GAP_MS]
    assert driver.value_reads == 3  # one failed attempt, then temperature and humidity


def test_a_sensor_that_keeps_failing_is_a_timeout_within_the_budget(tmp_path: Path) -> None:
    make_dht11_device(tmp_path, 0, 4)
    clock = FakeClock()
    driver = Driver(iter([errno.EIO, errno.ETIMEDOUT]))
    sensors = LinuxDht22Sensors(clock, sysfs=tmp_path, read_attr=driver)
    with pytest.raises(HalTimeout) as err:
        sensors.read(4)
    assert str(err.value) == "dht22 on gpio 4 (iio:device0): no valid reading (EIO, ETIMEDOUT)"
    assert clock.sleeps == [RETRY_GAP_MS]
    # The next read, at once, first waits out the gap: the sensor is never hammered.
    clock.sleeps.clear()
    assert sensors.read(4) == Dht22Reading(21.3, 48.7)
    assert clock.sleeps == [RETRY_GAP_MS]


def test_a_call_ends_within_two_seconds_even_when_the_driver_waits(tmp_path: Path) -> None:
    make_dht11_device(tmp_path, 0, 4)
    clock = FakeClock()
    start = clock.now
    driver = Driver(iter([errno.ETIMEDOUT]), clock)
    with pytest.raises(HalTimeout, match=r"no valid reading \(ETIMEDOUT\)$"):
        LinuxDht22Sensors(clock, sysfs=tmp_path, read_attr=driver).read(4)
    assert clock.now - start == DRIVER_TIMEOUT_MS  # past the budget: no second attempt
    clock.now = start
    driver = Driver(iter([errno.EIO, errno.ETIMEDOUT]), clock)
    with pytest.raises(HalTimeout, match=r"\(EIO, ETIMEDOUT\)$"):
        LinuxDht22Sensors(clock, sysfs=tmp_path, read_attr=driver).read(4)
    assert clock.now - start == RETRY_GAP_MS + DRIVER_TIMEOUT_MS  # the worst case: 1.5 s


def test_another_errno_is_a_hal_error_not_a_timeout(tmp_path: Path) -> None:
    make_dht11_device(tmp_path, 0, 4)
    driver = Driver(iter([errno.EACCES]))
    with pytest.raises(HalError) as err:
        LinuxDht22Sensors(FakeClock(), sysfs=tmp_path, read_attr=driver).read(4)
    assert type(err.value) is HalError
    assert str(err.value) == "dht22 on gpio 4 (iio:device0): driver error"


def test_a_reading_is_kept_for_the_sensors_interval(tmp_path: Path) -> None:
    device = make_dht11_device(tmp_path, 0, 4)
    clock = FakeClock()
    driver = Driver()
    sensors = LinuxDht22Sensors(clock, sysfs=tmp_path, read_attr=driver)
    first = sensors.read(4)
    (device / "in_temp_input").write_text("25000\n")
    clock.now += MIN_INTERVAL_MS - 1
    assert sensors.read(4) == first and driver.value_reads == 2
    clock.now += 1
    assert sensors.read(4) == Dht22Reading(25.0, 48.7) and driver.value_reads == 4
