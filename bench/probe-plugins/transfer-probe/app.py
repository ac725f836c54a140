"""Bench probe (bench/bench_soak.py --probe): `calls` i2c transfers of `out` bytes per poll.

Settings: calls (0-100, default 1), out (bytes written per transfer, 0-4096, default 1),
back (bytes read per transfer, 0-4096, default 0). Nothing is kept between polls.
"""

from harvester_sdk import SensorBase, Settings, guard, metric, reading
from wit_world import exports
from wit_world.exports import sensor
from wit_world.imports import i2c

_calls, _out, _back = 1, 1, 0


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def init(self, settings: list[sensor.Setting]) -> None:
        global _calls, _out, _back
        s = Settings(settings)
        _calls = s.integer("calls", 1, low=0, high=100)
        _out = s.integer("out", 1, low=0, high=4096)
        _back = s.integer("back", 0, low=0, high=4096)

    @guard
    def poll(self) -> list[sensor.Reading]:
        data = bytes(_out)
        for _ in range(_calls):
            i2c.transfer(1, 0x77, data, _back)
        return [reading("value", _calls)]
