"""LinuxBuzzers: active ones through a GPIO double, passive ones through a PWM sysfs tree."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from harvester.config import LinuxBuzzer
from harvester.hal.errors import BackendUnavailable, HalRequestError
from harvester.hal.linux.buzzer import LinuxBuzzers

WAIT_S = 5.0  # an upper bound for a timer that should fire in milliseconds


class RecordingGpio:
    """Records writes; `silenced` is set when a pin goes low."""

    def __init__(self) -> None:
        self.writes: list[tuple[int, bool]] = []
        self.silenced = threading.Event()

    def read(self, pin: int) -> bool:
        return False

    def write(self, pin: int, high: bool) -> None:
        self.writes.append((pin, high))
        if not high:
            self.silenced.set()


def pwm_tree(sysfs: Path, chip: int = 0, channel: int = 0, exported: bool = True) -> Path:
    chip_dir = sysfs / "class/pwm" / f"pwmchip{chip}"
    chip_dir.mkdir(parents=True)
    (chip_dir / "export").write_text("")
    pwm = chip_dir / f"pwm{channel}"
    if exported:
        pwm.mkdir()
        for name in ("period", "duty_cycle", "enable"):
            (pwm / name).write_text("0\n")
    return pwm


def test_an_active_buzzer_sounds_and_stops_by_itself() -> None:
    gpio = RecordingGpio()
    buzzers = LinuxBuzzers([LinuxBuzzer(pin=27)], gpio=gpio)
    buzzers.tone(27, 2000, 20)  # returns at once
    assert gpio.writes[0] == (27, True)
    assert gpio.silenced.wait(WAIT_S)
    assert gpio.writes == [(27, True), (27, False)]


def test_a_new_tone_replaces_the_sounding_one() -> None:
    gpio = RecordingGpio()
    buzzers = LinuxBuzzers([LinuxBuzzer(pin=27)], gpio=gpio)
    buzzers.tone(27, 1000, 60_000)
    buzzers.tone(27, 1000, 20)  # the minute-long tone's stop is cancelled
    assert gpio.silenced.wait(WAIT_S)
    assert gpio.writes == [(27, True), (27, True), (27, False)]
    buzzers.close()  # nothing pending: close only silences again
    assert gpio.writes[-1] == (27, False)


def test_off_silences_now() -> None:
    gpio = RecordingGpio()
    buzzers = LinuxBuzzers([LinuxBuzzer(pin=27)], gpio=gpio)
    buzzers.tone(27, 1000, 60_000)
    buzzers.off(27)
    assert gpio.writes == [(27, True), (27, False)]


def test_a_pwm_buzzer_gets_a_square_wave_in_nanoseconds(tmp_path: Path) -> None:
    pwm = pwm_tree(tmp_path, chip=0, channel=0)
    buzzers = LinuxBuzzers([LinuxBuzzer(pin=18, kind="pwm")], gpio=None, sysfs=tmp_path)
    buzzers.tone(18, 2000, 60_000)
    assert [(pwm / n).read_text() for n in ("period", "duty_cycle", "enable")] == [
        "500000", "250000", "1"
    ]  # fmt: skip
    buzzers.off(18)
    assert (pwm / "enable").read_text() == "0"


def test_an_unexported_channel_is_exported(tmp_path: Path) -> None:
    pwm = pwm_tree(tmp_path, chip=0, channel=1, exported=False)
    # The kernel would create pwm1 on the write; a plain directory does not, so the
    # export is seen as written and the missing channel is reported in one line.
    with pytest.raises(BackendUnavailable, match=r"pwm1 did not appear after export"):
        LinuxBuzzers([LinuxBuzzer(pin=19, kind="pwm", pwm_channel=1)], gpio=None, sysfs=tmp_path)
    assert (pwm.parent / "export").read_text() == "1"


def test_a_missing_pwm_chip_says_how_to_enable_it(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable) as err:
        LinuxBuzzers([LinuxBuzzer(pin=18, kind="pwm")], gpio=None, sysfs=tmp_path)
    assert str(err.value).startswith(
        f"{tmp_path}/class/pwm/pwmchip0 does not exist: enable PWM (config.txt: dtoverlay=pwm"
    )


def test_a_pin_without_a_buzzer_is_a_request_error() -> None:
    buzzers = LinuxBuzzers([LinuxBuzzer(pin=27)], gpio=RecordingGpio())
    with pytest.raises(HalRequestError, match=r"no buzzer on gpio 5 in \[linux\] buzzer"):
        buzzers.tone(5, 440, 100)
