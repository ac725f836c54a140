"""Hostile: holds its worker with long host sleeps (each capped by the host)."""

from harvester_sdk import SensorBase, guard, metric
from wit_world import exports
from wit_world.exports import sensor
from wit_world.imports import clock


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def poll(self) -> list[sensor.Reading]:
        while True:
            clock.sleep_ms(60_000)
