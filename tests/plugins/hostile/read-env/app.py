"""Hostile: reads the environment, looking for secrets. It reports what it found."""

import os

from harvester_sdk import SensorBase, guard, metric, reading
from wit_world import exports
from wit_world.exports import sensor


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def poll(self) -> list[sensor.Reading]:
        # The host passes no environment: a secret set there must not show up here.
        found = len(os.environ) + (1000 if "HARVESTER_CANARY" in os.environ else 0)
        return [reading("value", found)]
