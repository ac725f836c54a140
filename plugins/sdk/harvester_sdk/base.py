"""A base for sensor plugins that take no settings: `init` accepts any, `describe` returns
the class's `metrics`. A plugin then writes only `poll`:

    class Sensor(SensorBase, exports.Sensor):
        metrics = (metric("value", ""),)

        @guard
        def poll(self) -> list[sensor.Reading]: ...
"""

from wit_world.exports import sensor

from harvester_sdk.errors import guard


class SensorBase:
    metrics: tuple[sensor.Metric, ...] = ()

    @guard
    def init(self, settings: list[sensor.Setting]) -> None:
        pass

    def describe(self) -> list[sensor.Metric]:
        return list(self.metrics)
