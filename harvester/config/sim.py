"""The `[sim]` section: which simulated devices the sim backend builds, and their truth.

Each device type is one schema here. The sim backend (harvester.hal.sim) finds the
simulator for a schema by its type, so a new device is a schema here (plus, for an I2C
device, a member of `SimI2CDeviceConfig`) and a module in harvester/hal/sim/devices/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from harvester.config.base import (
    Frozen,
    I2CAddress,
    I2CBus,
    LedStrip,
    Pin,
    refuse_repeats,
)
from harvester.constants import LED_MAX_PIXELS

BME680_DEFAULT_ADDRESS = 0x77  # SDO high; 0x76 with SDO low
SSD1306_ADDRESSES = (0x3C, 0x3D)  # SA0 (D/C# in I2C mode) low / high; nothing else
WS2812B_DEFAULT_PIN = 18  # PWM0, the pin rpi-ws281x drives by default


class SimDevice(Frozen):
    """Base of every simulated device's schema."""


class SimI2CDevice(SimDevice):
    """A device on a simulated I2C bus. Subclasses override `address` with their default."""

    bus: I2CBus = 1
    address: I2CAddress


class SimNoise(Frozen):
    temperature_c: float = Field(default=0.02, ge=0, le=10)
    pressure_hpa: float = Field(default=0.05, ge=0, le=50)
    humidity_rh: float = Field(default=0.2, ge=0, le=20)
    gas_fraction: float = Field(default=0.01, ge=0, le=1)


class SimBme680(SimI2CDevice):
    device: Literal["bme680"]
    address: I2CAddress = BME680_DEFAULT_ADDRESS
    temperature_c: float = Field(default=22.0, ge=-40, le=85)
    pressure_hpa: float = Field(default=1013.25, ge=300, le=1100)
    humidity_rh: float = Field(default=45.0, ge=0, le=100)
    gas_ohm: float = Field(default=50_000.0, gt=0)
    # An `i2cdump -y 1 0x77` capture or 256 hex bytes; see docs/bme680-sim.md.
    dump: Path | None = None
    # Gaussian noise around the truth, as a real chip shows (standard deviations).
    noise: SimNoise | None = None


class SimSsd1306(SimI2CDevice):
    """A 128x64 SSD1306 OLED (docs/ssd1306-sim.md)."""

    device: Literal["ssd1306"]
    address: I2CAddress = SSD1306_ADDRESSES[0]
    # Panels with an external VCC supply light up without the internal charge pump.
    external_vcc: bool = False

    @field_validator("address")
    @classmethod
    def _sa0_address(cls, address: int) -> int:
        if address not in SSD1306_ADDRESSES:
            raise ValueError(f"an ssd1306 answers only at 0x3c or 0x3d, not {address:#04x}")
        return address


# Every simulated I2C device, told apart by its `device` key. Add new ones to this union.
SimI2CDeviceConfig = Annotated[SimBme680 | SimSsd1306, Field(discriminator="device")]


class SimDrift(Frozen):
    """A slow random walk of the truth, bounded to +- these around the configured value."""

    temperature_c: float = Field(default=0.5, ge=0, le=20)
    humidity_rh: float = Field(default=2.0, ge=0, le=50)


class SimDht22(SimDevice):
    pin: Pin = 4
    temperature_c: float = Field(default=21.0, ge=-40, le=80)
    humidity_rh: float = Field(default=50.0, ge=0, le=100)
    # Share of reads that fail, as the real sensor's do now and then.
    failure_rate: float = Field(default=0.05, ge=0, le=1)
    # The room's own slow change; `{}` = the defaults above, absent = a constant truth.
    drift: SimDrift | None = None


class SimLedStrip(SimDevice):
    """A WS2812B strip: `strip` is the number plugins' grants name."""

    strip: LedStrip = 0
    pixels: int = Field(default=8, ge=1, le=LED_MAX_PIXELS)
    pin: Pin = WS2812B_DEFAULT_PIN


class SimBuzzer(SimDevice):
    """A buzzer on a pin: `pwm` (passive, sounds the frequency) or `active` (on/off only)."""

    pin: Pin = 13
    kind: Literal["pwm", "active"] = "pwm"


class SimGpioPin(SimDevice):
    """A plain pin wired to something: an input (a button, a contact) with the level it
    reads, or an output (a relay, an LED) starting at `level`."""

    pin: Pin
    mode: Literal["input", "output"] = "input"
    level: bool = False


class SimConfig(Frozen):
    # 1.0 = device timing in real time; 0 = sleeps return at once (tests, benchmarks).
    time_scale: float = Field(default=1.0, ge=0, le=100)
    seed: int = 0
    i2c: tuple[SimI2CDeviceConfig, ...] = ()
    dht22: tuple[SimDht22, ...] = ()
    leds: tuple[SimLedStrip, ...] = ()
    buzzer: tuple[SimBuzzer, ...] = ()
    gpio: tuple[SimGpioPin, ...] = ()
    cpu_temp_c: float = Field(default=48.0, ge=-40, le=125)

    @field_validator("i2c")
    @classmethod
    def _unique_addresses(cls, devices: tuple[SimI2CDevice, ...]) -> tuple[SimI2CDevice, ...]:
        seen: set[tuple[int, int]] = set()
        for dev in devices:
            key = (dev.bus, dev.address)
            if key in seen:
                raise ValueError(f"two devices on bus {dev.bus} at address {dev.address:#04x}")
            seen.add(key)
        return devices

    @field_validator("dht22")
    @classmethod
    def _unique_pins(cls, sensors: tuple[SimDht22, ...]) -> tuple[SimDht22, ...]:
        refuse_repeats((s.pin for s in sensors), "two dht22 sensors on gpio {}")
        return sensors

    @field_validator("leds")
    @classmethod
    def _unique_strips(cls, strips: tuple[SimLedStrip, ...]) -> tuple[SimLedStrip, ...]:
        refuse_repeats((s.strip for s in strips), "led strip {} is listed twice")
        return strips

    @model_validator(mode="after")
    def _one_owner_per_pin(self) -> Self:
        # A pin is wired to one thing: two devices on it are a wiring mistake.
        owners: dict[int, str] = {}
        for kind, pins in (
            ("dht22", [d.pin for d in self.dht22]),
            ("led strip", [s.pin for s in self.leds]),
            ("buzzer", [b.pin for b in self.buzzer]),
            ("gpio", [g.pin for g in self.gpio]),
        ):
            for pin in pins:
                if pin in owners:
                    raise ValueError(f"gpio {pin} is wired to both a {owners[pin]} and a {kind}")
                owners[pin] = kind
        return self

    def devices(self) -> tuple[SimDevice, ...]:
        """Every device listed, in field order: each tuple field's SimDevice items."""
        return tuple(
            item
            for name in type(self).model_fields
            if isinstance(value := getattr(self, name), tuple)
            for item in value
            if isinstance(item, SimDevice)
        )
