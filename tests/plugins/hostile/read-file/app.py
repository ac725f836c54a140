"""Hostile: tries to read files of the host. The sandbox has no preopened directories."""

from harvester_sdk import guard, metric, reading
from wit_world import exports
from wit_world.exports import sensor

PATHS = ["/etc/passwd", "/etc/hostname", "/proc/self/environ", "."]


class Sensor(exports.Sensor):
    @guard
    def init(self, settings: list[sensor.Setting]) -> None:
        pass

    def describe(self) -> list[sensor.Metric]:
        return [metric("value", "")]

    @guard
    def poll(self) -> list[sensor.Reading]:
        stolen = 0
        for path in PATHS:
            with open(path, "rb") as f:  # raises: nothing is visible
                stolen += len(f.read())
        return [reading("value", stolen)]
