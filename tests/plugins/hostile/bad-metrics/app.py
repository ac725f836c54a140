"""Hostile: metric names that could inject into topics and a unit that is a payload."""

from harvester_sdk import SensorBase, guard, metric, reading
from wit_world import exports
from wit_world.exports import sensor


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("../../harvester/hub/cmd/#", "x" * 10_000),)

    @guard
    def poll(self) -> list[sensor.Reading]:
        return [reading("undeclared", float("nan"))]
