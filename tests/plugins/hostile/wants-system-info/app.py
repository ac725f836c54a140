"""Imports system-info: links only on a node whose config grants `system_info`."""

from harvester_sdk import guard, metric, reading
from harvester_sdk.records import DeviceClass
from wit_world import exports
from wit_world.exports import sensor
from wit_world.imports import system_info


class Sensor(exports.Sensor):
    @guard
    def init(self, settings: list[sensor.Setting]) -> None:
        pass

    def describe(self) -> list[sensor.Metric]:
        return [metric("cpu_temp", "°C", DeviceClass.TEMPERATURE), metric("uptime", "s")]

    @guard
    def poll(self) -> list[sensor.Reading]:
        return [
            reading("cpu_temp", system_info.get_cpu_temp()),
            reading("uptime", system_info.get_uptime()),
        ]
