"""Hostile: allocates until something stops it."""

from harvester_sdk import SensorBase, guard, metric
from wit_world import exports
from wit_world.exports import sensor

HOARD = []


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def poll(self) -> list[sensor.Reading]:
        while True:
            HOARD.append(bytearray(1 << 20))
