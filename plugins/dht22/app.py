"""The dht22 plugin. The host drives the single-wire protocol (it is timing-critical);
the plugin checks what comes back and reports it.

A DHT22 fails a read now and then; a failed poll is reported as a hardware error and the
next poll tries again, which is what the sensor's datasheet asks for (no retry inside
2 s).
"""

from harvester_sdk import Settings, guard, invalid_data, metric, reading
from harvester_sdk.records import DeviceClass
from wit_world import exports
from wit_world.exports import sensor
from wit_world.imports import gpio_provider

DEFAULT_PIN = 4
# The sensor's specified range; anything outside is a corrupted read.
TEMPERATURE_RANGE = (-40.0, 80.0)
HUMIDITY_RANGE = (0.0, 100.0)

METRICS = [
    metric("temperature", "°C", DeviceClass.TEMPERATURE),
    metric("humidity", "%", DeviceClass.HUMIDITY),
]

_pin = DEFAULT_PIN  # module level: componentize-py may make several Sensor objects


class Sensor(exports.Sensor):
    @guard
    def init(self, settings: list[sensor.Setting]) -> None:
        global _pin
        _pin = Settings(settings).integer("pin", DEFAULT_PIN, low=0, high=53)

    def describe(self) -> list[sensor.Metric]:
        return METRICS

    @guard
    def poll(self) -> list[sensor.Reading]:
        r = gpio_provider.read_dht22(_pin)
        if not TEMPERATURE_RANGE[0] <= r.temperature_c <= TEMPERATURE_RANGE[1]:
            raise invalid_data(f"temperature {r.temperature_c} °C is outside the sensor's range")
        if not HUMIDITY_RANGE[0] <= r.humidity_rh <= HUMIDITY_RANGE[1]:
            raise invalid_data(f"humidity {r.humidity_rh} % is outside 0..100")
        return [reading("temperature", r.temperature_c), reading("humidity", r.humidity_rh)]
