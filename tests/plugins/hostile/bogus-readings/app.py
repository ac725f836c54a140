"""Hostile: readings for metrics it never described (a thousand of them), and NaN."""

from harvester_sdk import guard, metric, reading
from wit_world import exports
from wit_world.exports import sensor


class Sensor(exports.Sensor):
    @guard
    def init(self, settings: list[sensor.Setting]) -> None:
        pass

    def describe(self) -> list[sensor.Metric]:
        return [metric("value", "")]

    @guard
    def poll(self) -> list[sensor.Reading]:
        ghosts = [reading("ghost", float(i)) for i in range(1000)]
        return [reading("value", float("nan")), *ghosts, reading("value", 2.0)]
