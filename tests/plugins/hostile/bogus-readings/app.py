"""Hostile: readings for metrics it never described (a thousand of them), and NaN."""

from harvester_sdk import SensorBase, guard, metric, reading
from wit_world import exports
from wit_world.exports import sensor


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def poll(self) -> list[sensor.Reading]:
        ghosts = [reading("ghost", float(i)) for i in range(1000)]
        return [reading("value", float("nan")), *ghosts, reading("value", 2.0)]
