"""Imports system-info: links only on a node whose config grants `system_info`."""

from harvester_sdk import SensorBase, guard, metric, reading
from harvester_sdk.records import DeviceClass
from wit_world import exports
from wit_world.exports import sensor
from wit_world.imports import system_info


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("cpu_temp", "°C", DeviceClass.TEMPERATURE), metric("uptime", "s"))

    @guard
    def poll(self) -> list[sensor.Reading]:
        return [
            reading("cpu_temp", system_info.get_cpu_temp()),
            reading("uptime", system_info.get_uptime()),
        ]
