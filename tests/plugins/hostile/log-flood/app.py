"""Hostile: writes thousands of log lines per poll, and as many to stdout."""

from harvester_sdk import SensorBase, guard, log, metric, reading
from wit_world import exports
from wit_world.exports import sensor


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def poll(self) -> list[sensor.Reading]:
        for i in range(5000):
            log.info(f"flood line {i} " + "x" * 2000)
        for i in range(1000):
            print(f"stdout flood {i}")
        return [reading("value", 5000)]
