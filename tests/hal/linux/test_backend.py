"""linux_backend: only what plugins are granted is built; a missing library is one line."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from smbus2 import i2c_msg

from harvester.config import NodeConfig
from harvester.hal import (
    BACKEND_LINUX,
    Backend,
    BackendUnavailable,
    Capability,
    HalError,
    make_backend,
)
from harvester.hal.linux import LinuxClock, LinuxI2C, LinuxSystemInfo, linux_backend
from tests.hal.linux.fakes import FakeSMBus


def node(*grants: dict[str, Any], **linux: Any) -> NodeConfig:
    plugins = [{"name": f"p{i}", "grants": g} for i, g in enumerate(grants)]
    return NodeConfig.model_validate(
        {"name": "pi4", "backend": "linux", "plugins": plugins, "linux": linux}
    )


def without(*absent: str) -> Any:
    def importer(name: str) -> ModuleType:
        if name in absent:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return importlib.import_module(name)

    return importer


def test_a_node_without_plugins_needs_no_hardware_library() -> None:
    backend = make_backend(NodeConfig(name="pi4", backend=BACKEND_LINUX))
    assert backend.name == BACKEND_LINUX
    assert backend.capabilities == frozenset()
    assert isinstance(backend.clock, LinuxClock)


def test_only_granted_capabilities_are_built(tmp_path: Path) -> None:
    backend = linux_backend(
        node({"system_info": True}, {"i2c": [{"bus": 1, "addresses": [0x77]}]}), sysfs=tmp_path
    )
    assert backend.capabilities == {Capability.SYSTEM_INFO, Capability.I2C}
    assert isinstance(backend.system, LinuxSystemInfo)
    assert isinstance(backend.i2c, LinuxI2C)


@pytest.mark.parametrize(
    ("grant", "module", "message"),
    [
        ({"i2c": [{"bus": 1, "addresses": [0x77]}]}, "smbus2",
         "i2c needs smbus2, which is not installed (pip install smbus2, or harvester[linux])"),
        ({"gpio": [17]}, "gpiod",
         "gpio needs gpiod, which is not installed (pip install gpiod, or harvester[linux])"),
        ({"system_info": True}, "psutil",
         "system info needs psutil, which is not installed (pip install psutil,"
         " or harvester[linux])"),
    ],
)  # fmt: skip
def test_a_missing_library_is_one_line_naming_it(
    grant: dict[str, Any], module: str, message: str
) -> None:
    with pytest.raises(BackendUnavailable) as err:
        linux_backend(node(grant), importer=without(module))
    assert str(err.value) == f"node 'pi4' (backend linux): {message}"


def test_leds_need_rpi_ws281x_only_when_granted_and_listed() -> None:
    leds = {"leds": [{"strip": 0, "pixels": 8}]}
    config = node({"leds": [{"strip": 0, "pixels": 8}]}, **leds)
    with pytest.raises(BackendUnavailable, match="leds needs rpi-ws281x, which is not installed"):
        linux_backend(config, importer=without("rpi_ws281x"))
    # Listed but granted to no plugin: never started, so the library is not needed.
    assert linux_backend(node(**leds), importer=without("rpi_ws281x")).leds is None


def test_close_closes_the_parts() -> None:
    bus = FakeSMBus(1, b"\x61")
    i2c = LinuxI2C(open_bus=lambda n: bus, i2c_msg=i2c_msg)
    backend = Backend(name=BACKEND_LINUX, clock=LinuxClock(), i2c=i2c)
    assert backend.i2c is not None and backend.i2c.transfer(1, 0x77, b"\xd0", 1) == b"\x61"
    backend.close()
    assert bus.closed


def test_a_part_that_fails_to_close_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class StuckBuzzers:
        def tone(self, pin: int, frequency_hz: int, duration_ms: int) -> None: ...

        def off(self, pin: int) -> None: ...

        def close(self) -> None:
            raise HalError("cannot write /sys/class/pwm/pwmchip0/pwm0/enable: Permission denied")

    bus = FakeSMBus(1)
    i2c = LinuxI2C(open_bus=lambda n: bus, i2c_msg=i2c_msg)
    i2c.transfer(1, 0x77, b"\xd0", 0)
    Backend(name=BACKEND_LINUX, clock=LinuxClock(), i2c=i2c, buzzer=StuckBuzzers()).close()
    assert bus.closed
    assert [r.getMessage() for r in caplog.records] == [
        "linux backend: closing StuckBuzzers: cannot write /sys/class/pwm/pwmchip0/pwm0/enable:"
        " Permission denied"
    ]
