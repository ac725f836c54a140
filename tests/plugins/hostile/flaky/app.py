"""Every instance answers its first poll, then raises: a plugin that works for a while."""

from harvester_sdk import SensorBase, guard, metric, reading
from wit_world import exports
from wit_world.exports import sensor

_polls = 0  # module state is per instance: a new instance starts over


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def poll(self) -> list[sensor.Reading]:
        global _polls
        _polls += 1
        if _polls > 1:
            raise RuntimeError("worn out")
        return [reading("value", _polls)]
