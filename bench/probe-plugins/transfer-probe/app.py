"""Bench probe (bench/bench_soak.py --probe, bench/bench_growth.py): per poll, a set number
of host calls of a set kind.

Settings: calls (i2c transfers, 0-100, default 1), out (bytes written per transfer, 0-4096,
default 1), back (bytes read per transfer, 0-4096, default 0), now (clock.now-ms calls: no
arguments, 0-100, default 0), log (log.log calls with a `log` bytes long message, a string
argument: 0-4096, default 0 = none). Nothing is kept between polls.
"""

from harvester_sdk import SensorBase, Settings, guard, metric, reading
from wit_world import exports
from wit_world.exports import sensor
from wit_world.imports import clock, i2c
from wit_world.imports import log as wit_log

_calls, _out, _back, _now, _log = 1, 1, 0, 0, 0


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def init(self, settings: list[sensor.Setting]) -> None:
        global _calls, _out, _back, _now, _log
        s = Settings(settings)
        _calls = s.integer("calls", 1, low=0, high=100)
        _out = s.integer("out", 1, low=0, high=4096)
        _back = s.integer("back", 0, low=0, high=4096)
        _now = s.integer("now", 0, low=0, high=100)
        _log = s.integer("log", 0, low=0, high=4096)

    @guard
    def poll(self) -> list[sensor.Reading]:
        data = bytes(_out)
        for _ in range(_calls):
            i2c.transfer(1, 0x77, data, _back)
        for _ in range(_now):
            clock.now_ms()
        if _log:
            wit_log.log(wit_log.Level.DEBUG, "x" * _log)
        return [reading("value", _calls)]
