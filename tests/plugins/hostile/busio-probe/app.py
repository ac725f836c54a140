"""Test plugin: uses the SDK's busio shim the way CircuitPython drivers do and reports
what it saw as readings, so a test can check the shim from outside the sandbox."""

import errno
import time

import busio
from harvester_sdk import SensorBase, guard, metric, reading
from harvester_sdk.hal import HalOSError
from wit_world import exports
from wit_world.exports import sensor
from wit_world.imports import clock

SENTINEL = 0xAA


class Sensor(SensorBase, exports.Sensor):
    metrics = (
        metric("scan_count", ""),
        metric("scan_first", ""),
        metric("chip_id", ""),
        metric("untouched", ""),
        metric("absent_is_enxio", ""),
        metric("ungranted_is_eacces", ""),
        metric("slept_ms", ""),
    )

    @guard
    def poll(self) -> list[sensor.Reading]:
        i2c = busio.I2C(bus=1)
        while not i2c.try_lock():
            pass
        try:
            found = i2c.scan()
            # The chip id register read into the middle of a buffer: only [1:2] changes.
            buf = bytearray([SENTINEL] * 3)
            i2c.writeto_then_readfrom(
                0x77, bytes([0x00, 0xD0]), buf, out_start=1, in_start=1, in_end=2
            )
            absent = ungranted = 0.0
            try:
                i2c.readfrom_into(0x76, bytearray(1))
            except HalOSError as exc:
                absent = float(exc.errno == errno.ENXIO)
            try:
                i2c.writeto(0x50, b"\x00")
            except OSError as exc:
                ungranted = float(exc.errno == errno.EACCES)
        finally:
            i2c.unlock()
        started = clock.now_ms()
        time.sleep(0.25)  # routed to clock.sleep-ms by importing busio; WASI's would trap
        return [
            reading("scan_count", len(found)),
            reading("scan_first", found[0] if found else -1),
            reading("chip_id", buf[1]),
            reading("untouched", float(buf[0] == SENTINEL and buf[2] == SENTINEL)),
            reading("absent_is_enxio", absent),
            reading("ungranted_is_eacces", ungranted),
            reading("slept_ms", clock.now_ms() - started),
        ]
