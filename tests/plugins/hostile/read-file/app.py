"""Hostile: tries to read files of the host. The sandbox has no preopened directories."""

from harvester_sdk import SensorBase, guard, metric, reading
from wit_world import exports
from wit_world.exports import sensor

PATHS = ["/etc/passwd", "/etc/hostname", "/proc/self/environ", "."]


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def poll(self) -> list[sensor.Reading]:
        stolen = 0
        for path in PATHS:
            with open(path, "rb") as f:  # raises: nothing is visible
                stolen += len(f.read())
        return [reading("value", stolen)]
