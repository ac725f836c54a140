"""Hostile: asks for a 32 MB I2C write, so the host must take in 32 MB before refusing it."""

from harvester_sdk import SensorBase, guard, metric, reading
from wit_world import exports
from wit_world.exports import sensor
from wit_world.imports import i2c

PAYLOAD = bytes(32 * 1024 * 1024)


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def poll(self) -> list[sensor.Reading]:
        i2c.transfer(1, 0x77, PAYLOAD, 0)
        return [reading("value", 1.0)]
