"""BME680 calibration layout, Bosch integer compensation, and its inversion (host side).

The simulator derives raw ADC values from physical truth by inverting the *integer*
compensation of Bosch's BME680 API with the chip's own calibration. The guest driver
uses Bosch's *float* compensation instead, so the two are independent implementations
that must agree (to within integer rounding) for the round trip to work.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

# Calibration regions in the register map (Bosch: BME680_COEFF_ADDR1/2, lengths 25 and 16).
COEFF1_START = 0x89
COEFF1_END = 0xA1  # inclusive
COEFF2_START = 0xE1
COEFF2_END = 0xF0  # inclusive
REG_RES_HEAT_VAL = 0x00
REG_RES_HEAT_RANGE = 0x02  # bits 5:4
REG_RANGE_SW_ERR = 0x04  # bits 7:4, signed nibble
CALIBRATION_REGS = (
    tuple(range(COEFF1_START, COEFF1_END + 1))
    + tuple(range(COEFF2_START, COEFF2_END + 1))
    + (REG_RES_HEAT_VAL, REG_RES_HEAT_RANGE, REG_RANGE_SW_ERR)
)

TEMP_ADC_MAX = (1 << 20) - 1
PRESS_ADC_MAX = (1 << 20) - 1
HUM_ADC_MAX = (1 << 16) - 1
GAS_ADC_MAX = (1 << 10) - 1

# Datasheet const_array1_int / const_array2_int (Bosch lookupTable1/2), BME680 gas ranges.
CONST_ARRAY1_INT = (
    2147483647,
    2147483647,
    2147483647,
    2147483647,
    2147483647,
    2126008810,
    2147483647,
    2130303777,
    2147483647,
    2147483647,
    2143188679,
    2136746228,
    2147483647,
    2126008810,
    2147483647,
    2147483647,
)
CONST_ARRAY2_INT = (
    4096000000,
    2048000000,
    1024000000,
    512000000,
    255744255,
    127110228,
    64000000,
    32258064,
    16016016,
    8000000,
    4000000,
    2000000,
    1000000,
    500000,
    250000,
    125000,
)


@dataclass(frozen=True)
class Calibration:
    """Decoded calibration parameters (names as in Bosch's API)."""

    par_t1: int
    par_t2: int
    par_t3: int
    par_p1: int
    par_p2: int
    par_p3: int
    par_p4: int
    par_p5: int
    par_p6: int
    par_p7: int
    par_p8: int
    par_p9: int
    par_p10: int
    par_h1: int
    par_h2: int
    par_h3: int
    par_h4: int
    par_h5: int
    par_h6: int
    par_h7: int
    par_gh1: int
    par_gh2: int
    par_gh3: int
    res_heat_range: int
    res_heat_val: int
    range_sw_err: int


def _s8(v: int) -> int:
    return v - 256 if v >= 128 else v


def _u16(regs: bytes, lsb: int) -> int:
    return regs[lsb] | (regs[lsb + 1] << 8)


def _s16(regs: bytes, lsb: int) -> int:
    v = _u16(regs, lsb)
    return v - 65536 if v >= 32768 else v


def decode_calibration(regs: bytes) -> Calibration:
    """Decode calibration from a 256-byte register image."""
    if len(regs) != 256:
        raise ValueError(f"register image must be 256 bytes, got {len(regs)}")
    sw_err = regs[REG_RANGE_SW_ERR] >> 4
    return Calibration(
        par_t1=_u16(regs, 0xE9),
        par_t2=_s16(regs, 0x8A),
        par_t3=_s8(regs[0x8C]),
        par_p1=_u16(regs, 0x8E),
        par_p2=_s16(regs, 0x90),
        par_p3=_s8(regs[0x92]),
        par_p4=_s16(regs, 0x94),
        par_p5=_s16(regs, 0x96),
        par_p6=_s8(regs[0x99]),
        par_p7=_s8(regs[0x98]),
        par_p8=_s16(regs, 0x9C),
        par_p9=_s16(regs, 0x9E),
        par_p10=regs[0xA0],
        par_h1=(regs[0xE3] << 4) | (regs[0xE2] & 0x0F),
        par_h2=(regs[0xE1] << 4) | (regs[0xE2] >> 4),
        par_h3=_s8(regs[0xE4]),
        par_h4=_s8(regs[0xE5]),
        par_h5=_s8(regs[0xE6]),
        par_h6=regs[0xE7],
        par_h7=_s8(regs[0xE8]),
        par_gh1=_s8(regs[0xED]),
        par_gh2=_s16(regs, 0xEB),
        par_gh3=_s8(regs[0xEE]),
        res_heat_range=(regs[REG_RES_HEAT_RANGE] >> 4) & 0x03,
        res_heat_val=_s8(regs[REG_RES_HEAT_VAL]),
        # Bosch treats range_sw_err as a signed nibble ((int8)(reg & 0xF0) / 16).
        range_sw_err=sw_err - 16 if sw_err >= 8 else sw_err,
    )


def encode_calibration(cal: Calibration) -> dict[int, int]:
    """Register values (address -> byte) that decode to ``cal``; unused bytes are 0."""
    regs = dict.fromkeys(CALIBRATION_REGS, 0)

    def put16(lsb: int, v: int) -> None:
        regs[lsb], regs[lsb + 1] = v & 0xFF, (v >> 8) & 0xFF

    put16(0xE9, cal.par_t1)
    put16(0x8A, cal.par_t2)
    regs[0x8C] = cal.par_t3 & 0xFF
    put16(0x8E, cal.par_p1)
    put16(0x90, cal.par_p2)
    regs[0x92] = cal.par_p3 & 0xFF
    put16(0x94, cal.par_p4)
    put16(0x96, cal.par_p5)
    regs[0x99] = cal.par_p6 & 0xFF
    regs[0x98] = cal.par_p7 & 0xFF
    put16(0x9C, cal.par_p8)
    put16(0x9E, cal.par_p9)
    regs[0xA0] = cal.par_p10 & 0xFF
    regs[0xE1] = (cal.par_h2 >> 4) & 0xFF
    regs[0xE2] = ((cal.par_h2 & 0x0F) << 4) | (cal.par_h1 & 0x0F)
    regs[0xE3] = (cal.par_h1 >> 4) & 0xFF
    for reg, v in (
        (0xE4, cal.par_h3),
        (0xE5, cal.par_h4),
        (0xE6, cal.par_h5),
        (0xE7, cal.par_h6),
        (0xE8, cal.par_h7),
        (0xED, cal.par_gh1),
        (0xEE, cal.par_gh3),
    ):
        regs[reg] = v & 0xFF
    put16(0xEB, cal.par_gh2)
    regs[REG_RES_HEAT_RANGE] = (cal.res_heat_range & 0x03) << 4
    regs[REG_RES_HEAT_VAL] = cal.res_heat_val & 0xFF
    regs[REG_RANGE_SW_ERR] = (cal.range_sw_err & 0x0F) << 4
    return regs


# Real chip values: the calibration dump in pimoroni/bme680-python issue #11, as used by
# that project's tests/conftest.py. Its tests/test_compensation.py gives the expected
# integer results (temp_adc 501240 -> 2669, press_adc 353485 -> 98712 Pa,
# hum_adc 19019 -> 42402, gas range 0 adc 0 -> 12946860 ohm), which our tests reuse.
DEFAULT_CALIBRATION = Calibration(
    par_t1=26041,
    par_t2=26469,
    par_t3=3,
    par_p1=36673,
    par_p2=-10515,
    par_p3=88,
    par_p4=7310,
    par_p5=-129,
    par_p6=30,
    par_p7=46,
    par_p8=-3177,
    par_p9=-2379,
    par_p10=30,
    par_h1=676,
    par_h2=1029,
    par_h3=0,
    par_h4=45,
    par_h5=20,
    par_h6=120,
    par_h7=-100,
    par_gh1=-30,
    par_gh2=-24754,
    par_gh3=18,
    res_heat_range=1,
    res_heat_val=48,
    range_sw_err=0,
)


# --- Bosch BME680 integer compensation (bme680.c, v3.5.x). C '/' truncates toward zero. ---


def _div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def comp_temperature(cal: Calibration, temp_adc: int) -> tuple[int, int]:
    """Return (temperature in 0.01 degC, t_fine)."""
    var1 = (temp_adc >> 3) - (cal.par_t1 << 1)
    var2 = (var1 * cal.par_t2) >> 11
    var3 = ((var1 >> 1) * (var1 >> 1)) >> 12
    var3 = (var3 * (cal.par_t3 << 4)) >> 14
    t_fine = var2 + var3
    return ((t_fine * 5) + 128) >> 8, t_fine


def comp_pressure(cal: Calibration, t_fine: int, press_adc: int) -> int:
    """Return pressure in Pa."""
    var1 = (t_fine >> 1) - 64000
    var2 = ((((var1 >> 2) * (var1 >> 2)) >> 11) * cal.par_p6) >> 2
    var2 = var2 + ((var1 * cal.par_p5) << 1)
    var2 = (var2 >> 2) + (cal.par_p4 << 16)
    var1 = (((((var1 >> 2) * (var1 >> 2)) >> 13) * (cal.par_p3 << 5)) >> 3) + (
        (cal.par_p2 * var1) >> 1
    )
    var1 = var1 >> 18
    var1 = ((32768 + var1) * cal.par_p1) >> 15
    if var1 == 0:
        return 0
    pc = ((1048576 - press_adc) - (var2 >> 12)) * 3125
    # Bosch's overflow guard: divide first for large values (changes rounding only).
    pc = _div(pc, var1) << 1 if pc >= 0x40000000 else _div(pc << 1, var1)
    var1 = (cal.par_p9 * (((pc >> 3) * (pc >> 3)) >> 13)) >> 12
    var2 = ((pc >> 2) * cal.par_p8) >> 13
    var3 = ((pc >> 8) * (pc >> 8) * (pc >> 8) * cal.par_p10) >> 17
    return pc + ((var1 + var2 + var3 + (cal.par_p7 << 7)) >> 4)


def comp_humidity(cal: Calibration, t_fine: int, hum_adc: int) -> int:
    """Return relative humidity in 0.001 %RH, clamped to 0..100000."""
    ts = ((t_fine * 5) + 128) >> 8
    var1 = (hum_adc - cal.par_h1 * 16) - (_div(ts * cal.par_h3, 100) >> 1)
    var2 = (
        cal.par_h2
        * (
            _div(ts * cal.par_h4, 100)
            + _div((ts * _div(ts * cal.par_h5, 100)) >> 6, 100)
            + (1 << 14)
        )
    ) >> 10
    var3 = var1 * var2
    var4 = ((cal.par_h6 << 7) + _div(ts * cal.par_h7, 100)) >> 4
    var5 = ((var3 >> 14) * (var3 >> 14)) >> 10
    var6 = (var4 * var5) >> 1
    hum = (((var3 + var6) >> 10) * 1000) >> 12
    return min(max(hum, 0), 100000)


def comp_gas(cal: Calibration, gas_adc: int, gas_range: int) -> int:
    """Return gas resistance in ohm (BME680 variant, not BME688)."""
    var1 = ((1340 + 5 * cal.range_sw_err) * CONST_ARRAY1_INT[gas_range]) >> 16
    var2 = (gas_adc << 15) - 16777216 + var1
    var3 = (CONST_ARRAY2_INT[gas_range] * var1) >> 9
    return _div(var3 + (var2 >> 1), var2)


# --- Inversion: search the integer ADC domain for the raw value nearest the truth. ---
# Each is a pure function of (calibration, truth), and the truth rarely changes between
# conversions, so results are cached: the search costs ~200 µs, the cache hit ~1 µs.


def _nearest(f: Callable[[int], float], target: float, lo: int, hi: int) -> int:
    """Index in [lo, hi] whose f is nearest target; f must be monotonic (either direction)."""
    rising = f(hi) >= f(lo)
    a, b = lo, hi
    while a < b:  # first index where f has reached the target in the search direction
        mid = (a + b) // 2
        if (f(mid) >= target) == rising:
            b = mid
        else:
            a = mid + 1
    best = a
    if a > lo and abs(f(a - 1) - target) <= abs(f(a) - target):
        best = a - 1
    return best


@functools.lru_cache(maxsize=1024)
def invert_temperature(cal: Calibration, temperature_c: float) -> int:
    return _nearest(lambda a: comp_temperature(cal, a)[0], temperature_c * 100, 0, TEMP_ADC_MAX)


@functools.lru_cache(maxsize=1024)
def invert_pressure(cal: Calibration, t_fine: int, pressure_hpa: float) -> int:
    return _nearest(lambda a: comp_pressure(cal, t_fine, a), pressure_hpa * 100, 0, PRESS_ADC_MAX)


@functools.lru_cache(maxsize=1024)
def invert_humidity(cal: Calibration, t_fine: int, humidity_rh: float) -> int:
    return _nearest(lambda a: comp_humidity(cal, t_fine, a), humidity_rh * 1000, 0, HUM_ADC_MAX)


def _gas_at(cal: Calibration, gas_range: int, adc: int) -> float:
    return comp_gas(cal, adc, gas_range)


@functools.lru_cache(maxsize=1024)
def invert_gas(cal: Calibration, gas_ohm: float) -> tuple[int, int]:
    """Return (gas_adc, gas_range) whose resistance is nearest gas_ohm (relative error).

    Ties favour the ADC reading closest to mid-scale, where a real chip's ranging lands.
    """
    best: tuple[float, int, int, int] | None = None
    for rng in range(16):
        # Within one range the resistance falls monotonically as the ADC value rises.
        adc = _nearest(functools.partial(_gas_at, cal, rng), gas_ohm, 0, GAS_ADC_MAX)
        err = abs(comp_gas(cal, adc, rng) - gas_ohm) / gas_ohm
        key = (round(err, 6), abs(adc - 512), adc, rng)
        if best is None or key < best:
            best = key
    assert best is not None
    return best[2], best[3]
