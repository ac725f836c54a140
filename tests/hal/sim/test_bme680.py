"""BME680 simulator + guest driver: the driver must recover the simulator's truth."""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import sys
from pathlib import Path

import pytest

from harvester.hal.sim import bme680 as simmod
from harvester.hal.sim import bme680_math as bm
from harvester.hal.sim.bme680 import Bme680Noise, Bme680Sim, profile_duration_ms
from harvester.hal.sim.clock import SimClock
from harvester.hal.sim.regdump import format_i2cdump

# The driver is guest code (a plugin file, not a package): load it from its own folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "plugins" / "bme680"))
drv = importlib.import_module("bme680_driver")

DRIVER_DURATION_MS = 33 + 148  # T x8 + P x4 + H x2, plus gas_wait 150 ms encoded as 37 * 4


class FrozenClock:
    """A clock on which no time ever passes (to prove the driver gives up)."""

    def elapsed_ms(self) -> float:
        return 0.0

    def sleep_ms(self, ms: int) -> None:
        pass


def transfer_for(sim: Bme680Sim) -> drv.Transfer:
    """One bus transaction: optional write message, then optional read (repeated start)."""

    def transfer(data: bytes, n: int) -> bytes:
        if data:
            sim.write(data)
        return sim.read(n) if n else b""

    return transfer


@pytest.fixture
def clock() -> SimClock:
    return SimClock(time_scale=0)


def started(sim: Bme680Sim, clock: SimClock) -> drv.Bme680:
    sensor = drv.Bme680(transfer_for(sim), clock.sleep_ms)
    sensor.begin()
    return sensor


def reg(sim: Bme680Sim, address: int, n: int = 1) -> bytes:
    sim.write(bytes((address,)))
    return sim.read(n)


def default_image() -> bytes:
    img = bytearray(256)
    for address, value in bm.encode_calibration(bm.DEFAULT_CALIBRATION).items():
        img[address] = value
    return bytes(img)


# --- compensation against published vectors (pimoroni/bme680-python tests) ---


def test_integer_compensation_matches_published_vectors() -> None:
    cal = bm.DEFAULT_CALIBRATION
    temp, t_fine = bm.comp_temperature(cal, 501240)
    assert (temp, t_fine) == (2669, 136667)
    # pimoroni gets 98712: it divides first only above 1 << 31; Bosch's C does so above 1 << 30.
    assert bm.comp_pressure(cal, t_fine, 353485) == 98711
    assert bm.comp_humidity(cal, t_fine, 19019) == 42402
    assert bm.comp_gas(cal, 0, 0) == 12946860


def test_driver_float_compensation_matches_published_vectors() -> None:
    img = default_image()
    cal = drv.Calibration(img[0x89:0xA2], img[0xE1:0xF1], img[0x00], img[0x02], img[0x04])
    temp, t_fine = drv.compensate_temperature(cal, 501240)
    assert temp == pytest.approx(26.69, abs=0.01)
    # Bosch's float and integer pressure paths differ by a few Pa (here 98716.9 vs 98711).
    assert drv.compensate_pressure(cal, t_fine, 353485) == pytest.approx(98712, abs=10)
    assert drv.compensate_humidity(cal, t_fine, 19019) == pytest.approx(42.402, abs=0.01)
    assert drv.compensate_gas(cal, 0, 0) == pytest.approx(12946860, rel=1e-6)


def test_calibration_encoding_round_trips_and_driver_decodes_the_same() -> None:
    img = default_image()
    assert bm.decode_calibration(img) == bm.DEFAULT_CALIBRATION
    cal = drv.Calibration(img[0x89:0xA2], img[0xE1:0xF1], img[0x00], img[0x02], img[0x04])
    for name, value in vars(bm.DEFAULT_CALIBRATION).items():
        assert getattr(cal, name) == value, name


def test_negative_range_sw_err_is_a_signed_nibble() -> None:
    img = bytearray(default_image())
    img[0x04] = 0xF0  # -1
    assert bm.decode_calibration(bytes(img)).range_sw_err == -1


# --- the driver against the simulator ---


@pytest.mark.parametrize(
    "temperature_c,pressure_hpa",
    list(itertools.product((-20.0, 0.0, 23.4, 60.0), (300.0, 705.5, 1013.25, 1100.0))),
)
def test_driver_recovers_truth(clock: SimClock, temperature_c: float, pressure_hpa: float) -> None:
    sim = Bme680Sim(clock)
    sensor = started(sim, clock)
    for humidity_rh, gas_ohm in zip(
        (10.0, 42.0, 90.0), (1_500.0, 48_000.0, 900_000.0), strict=True
    ):
        sim.set_conditions(
            temperature_c=temperature_c,
            pressure_hpa=pressure_hpa,
            humidity_rh=humidity_rh,
            gas_ohm=gas_ohm,
        )
        m = sensor.measure()
        assert m.temperature_c == pytest.approx(temperature_c, abs=0.5)
        assert m.pressure_hpa == pytest.approx(pressure_hpa, abs=1.0)
        assert m.humidity_rh == pytest.approx(humidity_rh, abs=3.0)
        assert m.gas_resistance_ohm == pytest.approx(gas_ohm, rel=0.02)


def test_driver_recovers_truth_with_another_calibration(clock: SimClock) -> None:
    other = dataclasses.replace(
        bm.DEFAULT_CALIBRATION,
        par_t2=25800,
        par_t3=-2,
        par_p1=37000,
        par_h1=700,
        par_h3=-12,
        par_h7=-80,
        range_sw_err=-3,
        res_heat_range=2,
        res_heat_val=-20,
    )
    img = bytearray(256)
    for address, value in bm.encode_calibration(other).items():
        img[address] = value
    sim = Bme680Sim(
        clock,
        calibration=bytes(img),
        temperature_c=31.0,
        pressure_hpa=850.0,
        humidity_rh=75.0,
        gas_ohm=12_000.0,
    )
    assert sim.calibration == other
    m = started(sim, clock).measure()
    # Tighter than the spec's tolerances: the float driver and the integer inversion must
    # agree closely, or a wrong coefficient would hide inside the allowance.
    assert m.temperature_c == pytest.approx(31.0, abs=0.02)
    assert m.pressure_hpa == pytest.approx(850.0, abs=0.1)
    assert m.humidity_rh == pytest.approx(75.0, abs=0.05)
    assert m.gas_resistance_ohm == pytest.approx(12_000.0, rel=0.002)


def test_driver_programs_heater_like_bosch_integer_code(clock: SimClock) -> None:
    sim = Bme680Sim(clock)
    started(sim, clock)
    c = bm.DEFAULT_CALIBRATION
    # Bosch integer calc_heater_res for 320 degC at 25 degC ambient.
    var2 = (c.par_gh1 + 784) * ((((c.par_gh2 + 154009) * 320 * 5) // 100 + 3276800) // 10)
    var4 = ((25 * c.par_gh3 // 1000) * 256 + var2 // 2) // (c.res_heat_range + 4)
    expected = (((var4 // (131 * c.res_heat_val + 65536)) - 250) * 34 + 50) // 100
    assert abs(reg(sim, simmod.REG_RES_HEAT_0)[0] - expected) <= 1
    assert reg(sim, simmod.REG_GAS_WAIT_0)[0] == 0x40 | 37  # 150 ms -> 37 * 4
    assert reg(sim, simmod.REG_CTRL_GAS_1)[0] == simmod.RUN_GAS


def test_gas_is_none_without_a_plausible_heater_profile(clock: SimClock) -> None:
    sim = Bme680Sim(clock)
    sensor = started(sim, clock)
    assert sensor.measure().gas_resistance_ohm is not None
    sim.write(bytes((simmod.REG_RES_HEAT_0, 0)))
    m = sensor.measure()
    assert m.gas_resistance_ohm is None
    assert (
        reg(sim, simmod.REG_GAS_R_LSB)[0] & (simmod.GAS_VALID | simmod.HEAT_STAB)
        == simmod.GAS_VALID
    )


def test_wrong_chip_id_is_named(clock: SimClock) -> None:
    sensor = drv.Bme680(transfer_for(Bme680Sim(clock, chip_id=0x60)), clock.sleep_ms)
    with pytest.raises(drv.Bme680Error, match="0x60"):
        sensor.begin()


def test_driver_gives_up_when_no_new_data() -> None:
    frozen = FrozenClock()
    sensor = drv.Bme680(transfer_for(Bme680Sim(frozen)), frozen.sleep_ms)  # type: ignore[arg-type]
    sensor.begin()
    with pytest.raises(drv.Bme680Error, match="no new data"):
        sensor.measure()


# --- register-level behaviour (the clock itself: test_clock.py) ---


def test_read_before_conversion_ends_is_stale_without_new_data(clock: SimClock) -> None:
    sim = Bme680Sim(clock, temperature_c=20.0)
    sensor = started(sim, clock)
    sensor.measure()
    old_fields = reg(sim, simmod.FIELD_START, 13)
    sim.set_conditions(temperature_c=35.0)
    sim.write(bytes((simmod.REG_CTRL_MEAS, reg(sim, simmod.REG_CTRL_MEAS)[0] | 0x01)))
    status = reg(sim, simmod.REG_MEAS_STATUS_0)[0]
    assert status & simmod.NEW_DATA == 0
    assert status & simmod.MEASURING
    assert reg(sim, simmod.FIELD_START, 13) == old_fields
    clock.sleep_ms(DRIVER_DURATION_MS - 1)
    assert reg(sim, simmod.REG_MEAS_STATUS_0)[0] & simmod.NEW_DATA == 0
    clock.sleep_ms(1)
    assert (
        reg(sim, simmod.REG_MEAS_STATUS_0)[0] & (simmod.NEW_DATA | simmod.MEASURING)
        == simmod.NEW_DATA
    )
    assert reg(sim, simmod.FIELD_START, 13) != old_fields
    assert reg(sim, simmod.REG_CTRL_MEAS)[0] & simmod.MODE_MASK == 0  # back to sleep


def test_profile_duration_follows_bosch() -> None:
    assert profile_duration_ms((4 << 5) | (3 << 2), 2, True, 0x40 | 37) == DRIVER_DURATION_MS
    # Nothing oversampled, no gas: (1908 + 2385 + 500) // 1000 + 1 wake-up.
    assert profile_duration_ms(0, 0, False, 0xFF) == 5
    assert drv.Bme680(lambda d, n: b"", lambda ms: None).duration_ms() == DRIVER_DURATION_MS


def test_soft_reset_restores_power_on_defaults(clock: SimClock) -> None:
    sim = Bme680Sim(clock)
    power_on = sim.registers()
    assert power_on[simmod.REG_CHIP_ID] == simmod.CHIP_ID
    started(sim, clock).measure()
    assert sim.registers() != power_on
    sim.write(bytes((simmod.REG_RESET, 0x00)))  # anything but 0xB6 is ignored
    assert sim.registers() != power_on
    sim.write(bytes((simmod.REG_RESET, simmod.SOFT_RESET_CMD)))
    assert sim.registers() == power_on


def test_read_only_registers_ignore_writes_and_pairs_write_in_order(clock: SimClock) -> None:
    sim = Bme680Sim(clock)
    sim.write(bytes((simmod.REG_CHIP_ID, 0x12, simmod.REG_CTRL_HUM, 0x02, simmod.REG_CONFIG, 0x08)))
    assert reg(sim, simmod.REG_CHIP_ID)[0] == simmod.CHIP_ID
    assert reg(sim, simmod.REG_CTRL_HUM)[0] == 0x02
    assert reg(sim, simmod.REG_CONFIG)[0] == 0x08


def test_read_auto_increments_and_wraps(clock: SimClock) -> None:
    sim = Bme680Sim(clock)
    regs = sim.registers()
    assert reg(sim, 0xFF, 3) == bytes((regs[0xFF], regs[0x00], regs[0x01]))
    assert sim.read(1) == bytes((regs[0x02],))


def test_skipped_measurements_report_markers(clock: SimClock) -> None:
    sim = Bme680Sim(clock)
    sim.write(bytes((simmod.REG_CTRL_HUM, 0x00, simmod.REG_CTRL_MEAS, 0x01)))
    clock.sleep_ms(10)
    assert reg(sim, simmod.FIELD_START, 8) == bytes((0x80, 0, 0, 0x80, 0, 0, 0x80, 0))
    assert reg(sim, simmod.REG_GAS_R_LSB)[0] & simmod.GAS_VALID == 0


def test_noise_is_seeded_and_bounded(clock: SimClock) -> None:
    def readings(seed: int) -> list[float]:
        sim = Bme680Sim(clock, noise=Bme680Noise(temperature_c=0.2, seed=seed))
        sensor = started(sim, clock)
        return [sensor.measure().temperature_c for _ in range(5)]

    first = readings(7)
    assert first == readings(7)
    assert first != readings(8)
    assert len(set(first)) > 1
    assert all(abs(t - 25.0) < 1.5 for t in first)


# --- register dumps ---


def test_dump_round_trip_reproduces_calibration_and_readings(clock: SimClock) -> None:
    truth = {
        "temperature_c": 18.5,
        "pressure_hpa": 962.0,
        "humidity_rh": 63.0,
        "gas_ohm": 120_000.0,
    }
    original = Bme680Sim(clock, **truth)
    expected = vars_of(started(original, clock).measure())
    text = format_i2cdump(original.registers())

    replay = Bme680Sim.from_dump(text, clock)
    assert replay.calibration == original.calibration
    for sim in (
        replay,
        Bme680Sim.from_dump(text, clock, truth=truth),
        Bme680Sim.from_dump(original.registers().hex(), clock),
    ):
        assert vars_of(started(sim, clock).measure()) == expected


def test_replay_ignores_truth_changes(clock: SimClock) -> None:
    source = Bme680Sim(clock, temperature_c=-5.0)
    expected = vars_of(started(source, clock).measure())
    replay = Bme680Sim.from_dump(format_i2cdump(source.registers()), clock)
    sensor = started(replay, clock)
    replay.set_conditions(temperature_c=40.0)
    assert vars_of(sensor.measure()) == expected
    assert vars_of(sensor.measure()) == expected


def vars_of(m: drv.Measurement) -> tuple[float, float, float, float | None]:
    return (m.temperature_c, m.pressure_hpa, m.humidity_rh, m.gas_resistance_ohm)
