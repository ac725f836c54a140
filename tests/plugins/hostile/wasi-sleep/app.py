"""Hostile: sleeps through WASI's own clock (time.sleep -> monotonic-clock + poll), which
wasmtime's epoch deadline cannot interrupt: only the host refusing the wait can."""

import time

from harvester_sdk import SensorBase, guard, metric
from wit_world import exports
from wit_world.exports import sensor


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def poll(self) -> list[sensor.Reading]:
        time.sleep(10**9)
        return []
