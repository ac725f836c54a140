"""Hostile: unbounded recursion, with the interpreter's own guard lifted."""

import sys

from harvester_sdk import guard, metric, reading
from wit_world import exports
from wit_world.exports import sensor


def dive(n: int) -> int:
    return dive(n + 1) + 1


class Sensor(exports.Sensor):
    @guard
    def init(self, settings: list[sensor.Setting]) -> None:
        pass

    def describe(self) -> list[sensor.Metric]:
        return [metric("value", "")]

    @guard
    def poll(self) -> list[sensor.Reading]:
        sys.setrecursionlimit(10**9)
        return [reading("value", dive(0))]
