"""Hostile: probes an EEPROM address (0x50) that its grant does not cover."""

from harvester_sdk import guard, metric, reading
from wit_world import exports
from wit_world.exports import sensor
from wit_world.imports import i2c


class Sensor(exports.Sensor):
    @guard
    def init(self, settings: list[sensor.Setting]) -> None:
        pass

    def describe(self) -> list[sensor.Metric]:
        return [metric("value", "")]

    @guard
    def poll(self) -> list[sensor.Reading]:
        data = i2c.transfer(1, 0x50, bytes([0x00]), 16)
        return [reading("value", len(data))]
