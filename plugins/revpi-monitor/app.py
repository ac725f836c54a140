"""The revpi-monitor plugin: the hub's health (a Kunbus RevPi Connect 4) from system-info.

The RevPi Connect 4 is a Compute Module 4 (the Pi 4's BCM2711) on an industrial carrier,
so what system-info can tell is what pi4-monitor reports, read by the same SDK code
(harvester_sdk.health). What is the carrier's own (the 24 V supply, the RS-485 and
PiBridge buses, the hardware watchdog, the status LEDs) is not reachable through
system-info; reporting it needs an interface of its own in a later WIT minor version, not
guesses here. The world is separate so that interface can be added to the hub alone.
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
