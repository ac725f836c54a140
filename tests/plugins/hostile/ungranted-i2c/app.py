"""Hostile: probes an EEPROM address (0x50) that its grant does not cover."""

from harvester_sdk import SensorBase, guard, metric, reading
from wit_world import exports
from wit_world.exports import sensor
from wit_world.imports import i2c


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def poll(self) -> list[sensor.Reading]:
        data = i2c.transfer(1, 0x50, bytes([0x00]), 16)
        return [reading("value", len(data))]
