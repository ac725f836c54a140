"""Small constructors for the sensor export's records."""

from wit_world.exports import sensor

DeviceClass = sensor.DeviceClass
StateClass = sensor.StateClass


def metric(
    name: str,
    unit: str,
    device_class: "sensor.DeviceClass" = sensor.DeviceClass.NONE,
    state_class: "sensor.StateClass" = sensor.StateClass.MEASUREMENT,
) -> sensor.Metric:
    return sensor.Metric(name, unit, device_class, state_class)


def reading(name: str, value: float) -> sensor.Reading:
    return sensor.Reading(name, float(value))
