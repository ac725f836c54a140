"""Hostile: tries to end the host process."""

import os

from harvester_sdk import guard, metric
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
        os._exit(3)
