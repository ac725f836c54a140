"""BME680 readings from Adafruit's CircuitPython driver, run unchanged in the sandbox.

The same sensor as plugins/bme680 (our own driver, Bosch's float compensation); this one
uses adafruit_bme680 (Bosch's integer compensation) through the SDK's busio shim, which
turns each register access into a host i2c transfer and routes the driver's time.sleep
through the host's clock. The two agree within the compensation's accuracy
(tests/plugins/test_bme680_adafruit_plugin.py).
"""

import adafruit_bme680
import busio
from harvester_sdk import Settings, guard, invalid_data, log, metric, no_device, reading
from harvester_sdk.records import DeviceClass
from wit_world import exports
from wit_world.exports import sensor

DEFAULT_BUS = 1
DEFAULT_ADDRESS = 0x77

METRICS = [
    metric("temperature", "°C", DeviceClass.TEMPERATURE),
    metric("pressure", "hPa", DeviceClass.PRESSURE),
    metric("humidity", "%", DeviceClass.HUMIDITY),
    metric("gas_resistance", "Ω", DeviceClass.GAS_RESISTANCE),
]

# componentize-py may make several Sensor objects: the driver lives at module level.
_sensor: adafruit_bme680.Adafruit_BME680_I2C | None = None


class Sensor(exports.Sensor):
    @guard
    def init(self, settings: list[sensor.Setting]) -> None:
        global _sensor
        s = Settings(settings)
        bus = s.integer("bus", DEFAULT_BUS, low=0, high=255)
        address = s.integer("address", DEFAULT_ADDRESS, low=0x76, high=0x77)
        try:
            # Checks the chip id, resets the chip and reads its calibration.
            _sensor = adafruit_bme680.Adafruit_BME680_I2C(busio.I2C(bus=bus), address)
        except RuntimeError as exc:  # the driver's "Failed to find BME680! Chip ID ..."
            raise no_device(f"bus {bus} address {address:#04x}: {exc}") from None
        log.info(f"BME680 (Adafruit driver) ready on bus {bus} at {address:#04x}")

    def describe(self) -> list[sensor.Metric]:
        return METRICS

    @guard
    def poll(self) -> list[sensor.Reading]:
        if _sensor is None:
            raise no_device("poll before a successful init")
        try:
            # The first property measures; the rest reuse that measurement (the driver
            # measures again only after its refresh interval).
            out = [
                reading("temperature", _sensor.temperature),
                reading("pressure", _sensor.pressure),
                reading("humidity", _sensor.relative_humidity),
            ]
        except RuntimeError as exc:  # "Timeout while reading sensor data"
            raise invalid_data(str(exc)) from None
        gas = _sensor.gas
        if gas > 0:
            out.append(reading("gas_resistance", gas))
        return out
