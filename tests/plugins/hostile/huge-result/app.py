"""Hostile: returns a million readings, so the host spends its time (and GIL) lifting them."""

from harvester_sdk import SensorBase, guard, metric, reading
from wit_world import exports
from wit_world.exports import sensor


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def poll(self) -> list[sensor.Reading]:
        one = reading("value", 1.0)
        return [one] * 1_000_000
