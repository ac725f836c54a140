"""The pi4-monitor plugin: a Raspberry Pi 4 spoke's health from the host's system-info.

The metrics and how they are read live in the SDK (harvester_sdk.health), shared with
revpi-monitor; a Pi 4 adds nothing of its own that system-info could tell.
"""

from harvester_sdk import SensorBase, guard
from harvester_sdk.health import HEALTH_METRICS, health_readings
from wit_world import exports
from wit_world.exports import sensor


class Sensor(SensorBase, exports.Sensor):
    metrics = HEALTH_METRICS

    @guard
    def poll(self) -> list[sensor.Reading]:
        return health_readings()
