"""SimBuzzers: tones recorded on the sim clock, cut short by off() or the next tone."""

from __future__ import annotations

import pytest

from harvester.config import SimConfig
from harvester.hal.errors import HalRequestError
from harvester.hal.sim.backend import SimBackend
from harvester.hal.sim.buzzer import Tone


def backend() -> SimBackend:
    config = SimConfig(
        time_scale=0, buzzer=[{"pin": 13, "kind": "pwm"}, {"pin": 12, "kind": "active"}]
    )
    return SimBackend(config)


def test_a_tone_is_recorded_with_its_frequency_duration_and_start() -> None:
    sim = backend()
    sim.clock.sleep_ms(1000)
    start = sim.clock.now_ms()
    sim.buzzer.tone(13, 440, 200)
    assert sim.buzzer[13].sounding() == Tone(440, 200, start, 200)
    sim.clock.sleep_ms(300)
    assert sim.buzzer[13].sounding() is None  # it stopped by itself
    assert sim.buzzer.played(13) == [Tone(440, 200, start, 200)]


def test_an_active_buzzer_records_no_frequency() -> None:
    sim = backend()
    sim.buzzer.tone(12, 2000, 50)
    (tone,) = sim.buzzer.played(12)
    assert (tone.frequency_hz, tone.duration_ms) == (None, 50)


def test_off_cuts_a_tone_short_to_what_sounded() -> None:
    sim = backend()
    start = sim.clock.now_ms()
    sim.buzzer.tone(13, 1000, 500)
    sim.clock.sleep_ms(120)
    sim.buzzer.off(13)
    assert sim.buzzer.played(13) == [Tone(1000, 120, start, 500)]
    sim.clock.sleep_ms(1000)
    sim.buzzer.off(13)  # off when silent changes nothing
    assert sim.buzzer.played(13)[0].duration_ms == 120


def test_a_new_tone_replaces_the_sounding_one() -> None:
    sim = backend()
    start = sim.clock.now_ms()
    sim.buzzer.tone(13, 440, 1000)
    sim.clock.sleep_ms(250)
    sim.buzzer.tone(13, 880, 100)
    assert sim.buzzer.played(13) == [
        Tone(440, 250, start, 1000),
        Tone(880, 100, start + 250, 100),
    ]


def test_a_pin_without_a_buzzer_is_refused_and_a_buzzer_pin_is_not_a_free_gpio() -> None:
    sim = backend()
    with pytest.raises(HalRequestError, match="no buzzer on gpio 5"):
        sim.buzzer.tone(5, 440, 10)
    with pytest.raises(HalRequestError, match="no buzzer on gpio 5"):
        sim.buzzer.off(5)
    with pytest.raises(HalRequestError, match="gpio 13 is used by the buzzer"):
        sim.gpio.write(13, True)
