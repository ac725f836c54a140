"""Hostile: tries to reach the network."""

from harvester_sdk import SensorBase, guard, metric, reading
from wit_world import exports
from wit_world.exports import sensor


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def poll(self) -> list[sensor.Reading]:
        import socket  # componentize-py's CPython has no socket module

        s = socket.create_connection(("127.0.0.1", 1883), timeout=1)
        s.sendall(b"exfiltrate")
        return [reading("value", 1)]
