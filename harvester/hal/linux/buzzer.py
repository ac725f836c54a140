"""Buzzers: an active one is switched through GPIO (it sounds while its pin is high); a
passive one is given a square wave by the kernel's PWM, through sysfs:
/sys/class/pwm/pwmchipN/export, then pwmM/period, duty_cycle (ns) and enable.

`tone` returns at once; a timer silences the buzzer after the duration, and a new tone or
`off` cancels it (a generation number per pin makes a timer that fires late harmless).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from harvester.config import LinuxBuzzer
from harvester.hal.capabilities import Gpio
from harvester.hal.errors import BackendUnavailable, HalError, HalRequestError

log = logging.getLogger(__name__)

NS_PER_S: Final = 1_000_000_000
MS_PER_S: Final = 1000.0
PWM_CLASS: Final = Path("class/pwm")
PWM_HINT: Final = (
    "enable PWM (config.txt: dtoverlay=pwm,pin=18,func=2;"
    ' NixOS: hardware.raspberry-pi."4".pwm0.enable) and add the user to group gpio'
)


class PwmChannel:
    """One channel of a kernel PWM chip, driven through its sysfs files."""

    def __init__(self, sysfs: Path, chip: int, channel: int) -> None:
        self.chip_dir = sysfs / PWM_CLASS / f"pwmchip{chip}"
        self.dir = self.chip_dir / f"pwm{channel}"
        if not self.chip_dir.is_dir():
            raise BackendUnavailable(f"{self.chip_dir} does not exist: {PWM_HINT}")
        if not self.dir.is_dir():
            try:
                (self.chip_dir / "export").write_text(str(channel), encoding="ascii")
            except OSError as exc:
                raise BackendUnavailable(
                    f"cannot export {self.dir.name} on {self.chip_dir}: {exc.strerror}"
                ) from exc
            if not self.dir.is_dir():
                raise BackendUnavailable(f"{self.dir} did not appear after export: {PWM_HINT}")

    def _write(self, name: str, value: int) -> None:
        try:
            (self.dir / name).write_text(str(value), encoding="ascii")
        except OSError as exc:
            raise HalError(f"cannot write {self.dir / name}: {exc.strerror or exc}") from exc

    def start(self, frequency_hz: int) -> None:
        """A square wave (half duty). Duty goes to 0 first: the kernel refuses a period
        shorter than the duty cycle still set."""
        period = round(NS_PER_S / frequency_hz)
        self._write("duty_cycle", 0)
        self._write("period", period)
        self._write("duty_cycle", period // 2)
        self._write("enable", 1)

    def stop(self) -> None:
        self._write("enable", 0)


class LinuxBuzzers:
    """The Buzzers capability over the [linux] buzzer entries; `gpio` switches active ones."""

    def __init__(
        self, buzzers: Iterable[LinuxBuzzer], *, gpio: Gpio | None, sysfs: Path = Path("/sys")
    ) -> None:
        self._buzzers = {b.pin: b for b in buzzers}
        self._pwm = {
            b.pin: PwmChannel(sysfs, b.pwm_chip, b.pwm_channel)
            for b in self._buzzers.values()
            if b.kind == "pwm"
        }
        if gpio is None and any(b.kind == "active" for b in self._buzzers.values()):
            raise BackendUnavailable("an active buzzer needs gpio")
        self._gpio = gpio
        self._lock = threading.Lock()
        self._timers: dict[int, threading.Timer] = {}
        self._generation: dict[int, int] = {}

    def _check(self, pin: int) -> None:
        if pin not in self._buzzers:
            raise HalRequestError(f"no buzzer on gpio {pin} in [linux] buzzer")

    def _sound(self, pin: int, frequency_hz: int) -> None:
        pwm = self._pwm.get(pin)
        if pwm is not None:
            pwm.start(frequency_hz)
        elif self._gpio is not None:
            self._gpio.write(pin, True)

    def _silence(self, pin: int) -> None:
        pwm = self._pwm.get(pin)
        if pwm is not None:
            pwm.stop()
        elif self._gpio is not None:
            self._gpio.write(pin, False)

    def _forget_timer(self, pin: int) -> int:
        """Cancel the pending stop of `pin`; the new generation number."""
        timer = self._timers.pop(pin, None)
        if timer is not None:
            timer.cancel()
        generation = self._generation.get(pin, 0) + 1
        self._generation[pin] = generation
        return generation

    def tone(self, pin: int, frequency_hz: int, duration_ms: int) -> None:
        """See capabilities.Buzzers.tone. An active buzzer ignores the frequency."""
        self._check(pin)
        with self._lock:
            generation = self._forget_timer(pin)
            self._sound(pin, frequency_hz)
            timer = threading.Timer(duration_ms / MS_PER_S, self._expire, (pin, generation))
            timer.daemon = True
            self._timers[pin] = timer
            timer.start()

    def _expire(self, pin: int, generation: int) -> None:
        with self._lock:
            if self._generation.get(pin) != generation:
                return  # a newer tone or an off took over
            self._timers.pop(pin, None)
            try:
                self._silence(pin)
            except HalError as exc:  # no caller to raise to on the timer's thread
                log.warning("buzzer on gpio %d: cannot stop the tone: %s", pin, exc)

    def off(self, pin: int) -> None:
        """Silence it now. Raises as `tone` does."""
        self._check(pin)
        with self._lock:
            self._forget_timer(pin)
            self._silence(pin)

    def close(self) -> None:
        """Silence every buzzer."""
        for pin in self._buzzers:
            self.off(pin)
