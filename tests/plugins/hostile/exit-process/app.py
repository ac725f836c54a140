"""Hostile: tries to end the host process."""

import os

from harvester_sdk import SensorBase, guard, metric
from wit_world import exports
from wit_world.exports import sensor


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def poll(self) -> list[sensor.Reading]:
        os._exit(3)
