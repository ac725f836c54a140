"""Hostile: unbounded recursion, with the interpreter's own guard lifted."""

import sys

from harvester_sdk import SensorBase, guard, metric, reading
from wit_world import exports
from wit_world.exports import sensor


def dive(n: int) -> int:
    return dive(n + 1) + 1


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def poll(self) -> list[sensor.Reading]:
        sys.setrecursionlimit(10**9)
        return [reading("value", dive(0))]
