"""Hostile: every poll raises."""

from harvester_sdk import SensorBase, guard, metric
from wit_world import exports
from wit_world.exports import sensor


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def poll(self) -> list[sensor.Reading]:
        raise RuntimeError("boom: hostile plugin raised on purpose")
