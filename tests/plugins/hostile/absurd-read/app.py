"""Hostile: asks the host for a 4 GiB read from a granted device."""

from harvester_sdk import SensorBase, guard, metric, reading
from wit_world import exports
from wit_world.exports import sensor
from wit_world.imports import i2c


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def poll(self) -> list[sensor.Reading]:
        data = i2c.transfer(1, 0x77, bytes([0xD0]), 0xFFFFFFFF)
        return [reading("value", len(data))]
