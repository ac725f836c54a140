"""The `[linux]` section: the hardware of a `linux` node that the kernel does not describe.

I2C buses need no entry (a plugin's grant names the bus, /dev/i2c-N is opened on first
use), nor do DHT22 sensors declared with the kernel's dht11 overlay (found by their pin).
What is listed here is what only the wiring knows: LED strips, buzzers, an IIO device that
cannot be told by its pin, a GPIO chip that is not the SoC's.
"""

from __future__ import annotations

from typing import Final, Literal, Self

from pydantic import Field, field_validator, model_validator

from harvester.config.base import Frozen, LedStrip, Pin, refuse_repeats
from harvester.constants import LED_MAX_PIXELS

# GPIOs rpi-ws281x can drive: PWM0 (12, 18), PWM1 (13, 19), PCM (21), SPI0 MOSI (10).
LED_GPIOS: Final = (10, 12, 13, 18, 19, 21)
LED_PWM1_GPIOS: Final = (13, 19)  # rpi-ws281x channel 1; every other pin is channel 0
# Pins with a hardware PWM function on the Pi (PWM0: 12, 18; PWM1: 13, 19).
PWM_GPIOS: Final = (12, 13, 18, 19)
WS2812_HZ: Final = 800_000
WS281X_DMA: Final = 10  # rpi-ws281x's default DMA channel; 5 can corrupt the SD card


class LinuxDht22(Frozen):
    """The IIO device of a DHT22 on the kernel's dht11 driver, for a sensor that cannot be
    found by its pin (one declared with dtoverlay=dht11,gpiopin=N can)."""

    pin: Pin
    iio_device: str = Field(pattern=r"^iio:device[0-9]+$")  # e.g. "iio:device0"


class LinuxLedStrip(Frozen):
    """A WS2812B strip driven by rpi-ws281x; `strip` is the number grants use."""

    strip: LedStrip
    gpio: Literal[10, 12, 13, 18, 19, 21] = 18
    pixels: int = Field(ge=1, le=LED_MAX_PIXELS)
    brightness: int = Field(default=255, ge=0, le=255)
    dma: int = Field(default=WS281X_DMA, ge=0, le=14)
    frequency_hz: int = Field(default=WS2812_HZ, ge=400_000, le=800_000)
    # A level shifter that inverts (a single transistor) needs this.
    invert: bool = False

    @property
    def channel(self) -> int:
        """rpi-ws281x's PWM channel for the pin."""
        return 1 if self.gpio in LED_PWM1_GPIOS else 0


class LinuxBuzzer(Frozen):
    """A buzzer on a pin: `active` sounds while the pin is high (on/off through GPIO);
    `pwm` is a passive one driven with a tone by the kernel's PWM (sysfs)."""

    pin: Pin
    kind: Literal["active", "pwm"] = "active"
    # /sys/class/pwm/pwmchip<pwm_chip>/pwm<pwm_channel>; only for kind = "pwm".
    pwm_chip: int = Field(default=0, ge=0, le=63)
    pwm_channel: int = Field(default=0, ge=0, le=15)

    @model_validator(mode="after")
    def _pwm_pin(self) -> Self:
        if self.kind == "pwm" and self.pin not in PWM_GPIOS:
            raise ValueError(
                f"pin {self.pin} has no hardware PWM; a pwm buzzer needs one of"
                f" {', '.join(map(str, PWM_GPIOS))}"
            )
        return self


class LinuxConfig(Frozen):
    # The GPIO character device; default: the one whose label is the SoC's pin controller
    # (pinctrl-bcm2711 on a Pi 4/CM4, pinctrl-bcm2835 on a Zero 2 W, pinctrl-rp1 on a Pi 5).
    gpio_chip: str | None = Field(default=None, pattern=r"^/dev/gpiochip[0-9]+$")
    dht22: tuple[LinuxDht22, ...] = ()
    leds: tuple[LinuxLedStrip, ...] = ()
    buzzer: tuple[LinuxBuzzer, ...] = ()

    @field_validator("dht22")
    @classmethod
    def _unique_dht22(cls, sensors: tuple[LinuxDht22, ...]) -> tuple[LinuxDht22, ...]:
        refuse_repeats((s.pin for s in sensors), "two dht22 sensors on gpio {}")
        return sensors

    @field_validator("leds")
    @classmethod
    def _unique_strips(cls, strips: tuple[LinuxLedStrip, ...]) -> tuple[LinuxLedStrip, ...]:
        refuse_repeats((s.strip for s in strips), "strip listed twice: {}")
        refuse_repeats((s.gpio for s in strips), "two strips on gpio {}")
        return strips

    @field_validator("buzzer")
    @classmethod
    def _unique_buzzers(cls, buzzers: tuple[LinuxBuzzer, ...]) -> tuple[LinuxBuzzer, ...]:
        refuse_repeats((b.pin for b in buzzers), "two buzzers on gpio {}")
        return buzzers

    @model_validator(mode="after")
    def _one_use_per_pin(self) -> Self:
        uses = [
            *(s.pin for s in self.dht22),
            *(s.gpio for s in self.leds),
            *(b.pin for b in self.buzzer),
        ]
        refuse_repeats(uses, "gpio {} is used by two devices (dht22, leds, buzzer)")
        return self
