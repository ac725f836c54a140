"""The real plugins, sandboxed, through the linux backend's adapters: the bme680 plugin
over LinuxI2C and an SMBus whose kernel answers from the BME680 register simulator; the
dht22 plugin over LinuxDht22Sensors and a sysfs tree shaped as the dht11 driver's."""

from __future__ import annotations

import ctypes
import errno
from pathlib import Path
from typing import Any

import pytest
from smbus2 import i2c_msg

from harvester.hal import BACKEND_LINUX, Backend
from harvester.hal.linux import LinuxDht22Sensors, LinuxI2C
from harvester.hal.sim.bme680 import Bme680Sim
from harvester.hal.sim.clock import SimClock
from harvester.runtime.errors import PluginReportedError
from tests.hal.linux.fakes import FakeClock, make_dht11_device

pytestmark = pytest.mark.wasm

I2C_M_RD = 1


class KernelOverSim:
    """smbus2.SMBus's `i2c_rdwr` as the kernel would carry it out on a bus holding these
    register-level devices; an address nobody answers is EREMOTEIO, as i2c-bcm2835 says."""

    def __init__(self, devices: dict[int, Any]) -> None:
        self.devices = devices
        self.shapes: list[tuple[str, ...]] = []

    def i2c_rdwr(self, *msgs: Any) -> None:
        self.shapes.append(tuple("r" if m.flags & I2C_M_RD else "w" for m in msgs))
        for msg in msgs:
            device = self.devices.get(msg.addr)
            if device is None:
                raise OSError(errno.EREMOTEIO, "Remote I/O error")
            if msg.flags & I2C_M_RD:
                ctypes.memmove(msg.buf, device.read(msg.len), msg.len)
            else:
                device.write(bytes(msg))

    def close(self) -> None:
        pass


def test_the_bme680_plugin_reads_through_linux_i2c(instantiate: Any) -> None:
    clock = SimClock(time_scale=0)
    chip = Bme680Sim(clock)
    chip.set_conditions(temperature_c=23.4, pressure_hpa=1002.0, humidity_rh=52.0)
    kernel = KernelOverSim({0x77: chip})
    i2c = LinuxI2C(open_bus=lambda n: kernel, i2c_msg=i2c_msg)
    plugin = instantiate("bme680", Backend(name=BACKEND_LINUX, clock=clock, i2c=i2c))
    plugin.init({"bus": 1, "address": 0x77})
    got = {r.metric: r.value for r in plugin.poll()}
    assert abs(got["temperature"] - 23.4) <= 0.5
    assert abs(got["pressure"] - 1002.0) <= 1.0
    assert abs(got["humidity"] - 52.0) <= 3.0
    # Register reads went out as write-then-read in one transaction.
    assert ("w", "r") in kernel.shapes


def test_an_absent_chip_is_a_hal_error_for_the_plugin(instantiate: Any) -> None:
    clock = SimClock(time_scale=0)
    i2c = LinuxI2C(open_bus=lambda n: KernelOverSim({}), i2c_msg=i2c_msg)
    plugin = instantiate("bme680", Backend(name=BACKEND_LINUX, clock=clock, i2c=i2c))
    with pytest.raises(PluginReportedError) as err:
        plugin.init({"bus": 1, "address": 0x77})
    assert err.value.kind == "hal"
    assert "no-acknowledge" in str(err.value)


def test_the_dht22_plugin_reads_the_iio_device(instantiate: Any, tmp_path: Path) -> None:
    make_dht11_device(tmp_path, 0, 4, temp_milli=19_600, humidity_milli=63_200)
    clock = FakeClock()
    dht22 = LinuxDht22Sensors(clock, sysfs=tmp_path)
    backend = Backend(name=BACKEND_LINUX, clock=clock, dht22=dht22)
    plugin = instantiate("dht22", backend, {"dht22": [4]})
    plugin.init({"pin": 4})
    values = {r.metric: r.value for r in plugin.poll()}
    assert values == {"temperature": pytest.approx(19.6), "humidity": pytest.approx(63.2)}
