"""Hostile: never returns from poll."""

from harvester_sdk import SensorBase, guard, metric
from wit_world import exports
from wit_world.exports import sensor


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def poll(self) -> list[sensor.Reading]:
        n = 0
        while True:
            n += 1
