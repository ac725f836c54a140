"""Hostile: metric names that could inject into topics and a unit that is a payload."""

from harvester_sdk import guard, metric, reading
from wit_world import exports
from wit_world.exports import sensor


class Sensor(exports.Sensor):
    @guard
    def init(self, settings: list[sensor.Setting]) -> None:
        pass

    def describe(self) -> list[sensor.Metric]:
        return [metric("../../harvester/hub/cmd/#", "x" * 10_000)]

    @guard
    def poll(self) -> list[sensor.Reading]:
        return [reading("undeclared", float("nan"))]
