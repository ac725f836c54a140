"""The bme680 plugin: the driver in bme680_driver.py, wired to the host's I2C and clock.

All of Bosch's compensation runs here, in the sandbox; the host only moves bytes.
"""

from bme680_driver import Bme680, Bme680Error
from harvester_sdk import Settings, guard, invalid_data, log, metric, no_device, reading
from harvester_sdk.records import DeviceClass
from wit_world import exports
from wit_world.exports import sensor
from wit_world.imports import clock, i2c

DEFAULT_BUS = 1
DEFAULT_ADDRESS = 0x77

METRICS = [
    metric("temperature", "°C", DeviceClass.TEMPERATURE),
    metric("pressure", "hPa", DeviceClass.PRESSURE),
    metric("humidity", "%", DeviceClass.HUMIDITY),
    metric("gas_resistance", "Ω", DeviceClass.GAS_RESISTANCE),
]

# componentize-py may make several Sensor objects: the driver lives at module level.
_driver: Bme680 | None = None


def _transfer(bus: int, address: int):
    def transfer(data: bytes, read_len: int) -> bytes:
        return i2c.transfer(bus, address, data, read_len)

    return transfer


class Sensor(exports.Sensor):
    @guard
    def init(self, settings: list[sensor.Setting]) -> None:
        global _driver
        s = Settings(settings)
        bus = s.integer("bus", DEFAULT_BUS, low=0, high=255)
        address = s.integer("address", DEFAULT_ADDRESS, low=0x76, high=0x77)
        driver = Bme680(
            _transfer(bus, address),
            clock.sleep_ms,
            heater_temp_c=s.integer("heater_temp_c", 320, low=200, high=400),
            heater_ms=s.integer("heater_ms", 150, low=1, high=4032),
        )
        try:
            driver.begin()
        except Bme680Error as exc:
            raise no_device(f"bus {bus} address {address:#04x}: {exc}") from None
        _driver = driver
        log.info(f"BME680 ready on bus {bus} at {address:#04x}")

    def describe(self) -> list[sensor.Metric]:
        return METRICS

    @guard
    def poll(self) -> list[sensor.Reading]:
        if _driver is None:
            raise no_device("poll before a successful init")
        try:
            m = _driver.measure()
        except Bme680Error as exc:
            raise invalid_data(str(exc)) from None
        out = [
            reading("temperature", m.temperature_c),
            reading("pressure", m.pressure_hpa),
            reading("humidity", m.humidity_rh),
        ]
        if m.gas_resistance_ohm is not None:
            out.append(reading("gas_resistance", m.gas_resistance_ohm))
        return out
