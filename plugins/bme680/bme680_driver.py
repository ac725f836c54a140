"""Pure-Python BME680 driver (guest side: stdlib only, no threads, no time module).

All bus access goes through ``transfer(write_bytes, read_len)``; all waiting through
``sleep_ms``. Compensation is Bosch's *floating-point* BME680 variant (BME680 API
bme680.c, BME680_FLOAT_POINT_COMPENSATION), not the BME688 one.
"""

from __future__ import annotations

from collections.abc import Callable

Transfer = Callable[[bytes, int], bytes]

# Register addresses.
REG_RES_HEAT_VAL = 0x00
REG_RES_HEAT_RANGE = 0x02
REG_RANGE_SW_ERR = 0x04
REG_FIELD_0 = 0x1D  # meas_status_0, followed by the field data up to 0x2B
FIELD_LEN = 15
REG_RES_HEAT_0 = 0x5A
REG_GAS_WAIT_0 = 0x64
REG_CTRL_GAS_0 = 0x70
REG_CTRL_GAS_1 = 0x71
REG_CTRL_HUM = 0x72
REG_CTRL_MEAS = 0x74
REG_CONFIG = 0x75
REG_COEFF_1 = 0x89  # 25 bytes
REG_COEFF_2 = 0xE1  # 16 bytes
REG_CHIP_ID = 0xD0
REG_RESET = 0xE0

CHIP_ID = 0x61
SOFT_RESET_CMD = 0xB6
RESET_WAIT_MS = 10  # Bosch waits 10 ms after a soft reset
NEW_DATA = 0x80
GAS_VALID = 0x20
HEAT_STAB = 0x10
RUN_GAS = 0x10
HEAT_OFF = 0x08
MODE_FORCED = 0x01
OS_X1, OS_X2, OS_X4, OS_X8 = 1, 2, 3, 4
OS_T, OS_P, OS_H = OS_X8, OS_X4, OS_X2
OS_CYCLES = (0, 1, 2, 4, 8, 16, 16, 16)
POLL_RETRIES = 10
POLL_INTERVAL_MS = 5

# Gas range correction tables of the float compensation (percent).
GAS_K1 = (0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, -0.8, 0.0, 0.0, -0.2, -0.5, 0.0, -1.0, 0.0, 0.0)
GAS_K2 = (0.0, 0.0, 0.0, 0.0, 0.1, 0.7, 0.0, -0.8, -0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


class Bme680Error(Exception):
    """The sensor is absent, wrong, or did not deliver data."""


class Measurement:
    """One compensated reading; gas_resistance_ohm is None unless gas is valid and stable."""

    __slots__ = ("gas_resistance_ohm", "humidity_rh", "pressure_hpa", "temperature_c")

    def __init__(
        self,
        temperature_c: float,
        pressure_hpa: float,
        humidity_rh: float,
        gas_resistance_ohm: float | None,
    ) -> None:
        self.temperature_c = temperature_c
        self.pressure_hpa = pressure_hpa
        self.humidity_rh = humidity_rh
        self.gas_resistance_ohm = gas_resistance_ohm

    def __repr__(self) -> str:
        return (
            f"Measurement(temperature_c={self.temperature_c:.2f}, "
            f"pressure_hpa={self.pressure_hpa:.2f}, humidity_rh={self.humidity_rh:.2f}, "
            f"gas_resistance_ohm={self.gas_resistance_ohm})"
        )


def _s8(v: int) -> int:
    return v - 256 if v >= 128 else v


def _s16(lsb: int, msb: int) -> int:
    v = lsb | (msb << 8)
    return v - 65536 if v >= 32768 else v


class Calibration:
    """Calibration parameters decoded from the chip's NVM (names as in Bosch's API)."""

    def __init__(self, c1: bytes, c2: bytes, heat_val: int, heat_range: int, sw_err: int) -> None:
        def r(reg: int) -> int:  # byte at a register address inside either block
            return c1[reg - REG_COEFF_1] if reg < REG_COEFF_2 else c2[reg - REG_COEFF_2]

        self.par_t1 = r(0xE9) | (r(0xEA) << 8)
        self.par_t2 = _s16(r(0x8A), r(0x8B))
        self.par_t3 = _s8(r(0x8C))
        self.par_p1 = r(0x8E) | (r(0x8F) << 8)
        self.par_p2 = _s16(r(0x90), r(0x91))
        self.par_p3 = _s8(r(0x92))
        self.par_p4 = _s16(r(0x94), r(0x95))
        self.par_p5 = _s16(r(0x96), r(0x97))
        self.par_p7 = _s8(r(0x98))
        self.par_p6 = _s8(r(0x99))
        self.par_p8 = _s16(r(0x9C), r(0x9D))
        self.par_p9 = _s16(r(0x9E), r(0x9F))
        self.par_p10 = r(0xA0)
        self.par_h1 = (r(0xE3) << 4) | (r(0xE2) & 0x0F)
        self.par_h2 = (r(0xE1) << 4) | (r(0xE2) >> 4)
        self.par_h3 = _s8(r(0xE4))
        self.par_h4 = _s8(r(0xE5))
        self.par_h5 = _s8(r(0xE6))
        self.par_h6 = r(0xE7)
        self.par_h7 = _s8(r(0xE8))
        self.par_gh2 = _s16(r(0xEB), r(0xEC))
        self.par_gh1 = _s8(r(0xED))
        self.par_gh3 = _s8(r(0xEE))
        self.res_heat_val = _s8(heat_val)
        self.res_heat_range = (heat_range >> 4) & 0x03
        nibble = sw_err >> 4
        self.range_sw_err = nibble - 16 if nibble >= 8 else nibble  # signed, as Bosch


def compensate_temperature(cal: Calibration, adc: int) -> tuple[float, float]:
    """Return (degC, t_fine)."""
    var1 = (adc / 16384.0 - cal.par_t1 / 1024.0) * cal.par_t2
    d = adc / 131072.0 - cal.par_t1 / 8192.0
    t_fine = var1 + d * d * (cal.par_t3 * 16.0)
    return t_fine / 5120.0, t_fine


def compensate_pressure(cal: Calibration, t_fine: float, adc: int) -> float:
    """Return Pa."""
    var1 = t_fine / 2.0 - 64000.0
    var2 = var1 * var1 * (cal.par_p6 / 131072.0)
    var2 = var2 + var1 * cal.par_p5 * 2.0
    var2 = var2 / 4.0 + cal.par_p4 * 65536.0
    var1 = (cal.par_p3 * var1 * var1 / 16384.0 + cal.par_p2 * var1) / 524288.0
    var1 = (1.0 + var1 / 32768.0) * cal.par_p1
    if int(var1) == 0:
        return 0.0  # Bosch's guard against division by zero
    p = (1048576.0 - adc - var2 / 4096.0) * 6250.0 / var1
    var1 = cal.par_p9 * p * p / 2147483648.0
    var2 = p * (cal.par_p8 / 32768.0)
    var3 = (p / 256.0) ** 3 * (cal.par_p10 / 131072.0)
    return p + (var1 + var2 + var3 + cal.par_p7 * 128.0) / 16.0


def compensate_humidity(cal: Calibration, t_fine: float, adc: int) -> float:
    """Return %RH clamped to 0..100."""
    temp = t_fine / 5120.0
    var1 = adc - (cal.par_h1 * 16.0 + (cal.par_h3 / 2.0) * temp)
    var2 = var1 * (
        cal.par_h2
        / 262144.0
        * (1.0 + cal.par_h4 / 16384.0 * temp + cal.par_h5 / 1048576.0 * temp * temp)
    )
    var3 = cal.par_h6 / 16384.0
    var4 = cal.par_h7 / 2097152.0
    hum = var2 + (var3 + var4 * temp) * var2 * var2
    return min(max(hum, 0.0), 100.0)


def compensate_gas(cal: Calibration, adc: int, gas_range: int) -> float:
    """Return ohm (BME680 variant)."""
    var1 = 1340.0 + 5.0 * cal.range_sw_err
    var2 = var1 * (1.0 + GAS_K1[gas_range] / 100.0)
    var3 = 1.0 + GAS_K2[gas_range] / 100.0
    return 1.0 / (var3 * 0.000000125 * (1 << gas_range) * ((adc - 512.0) / var2 + 1.0))


def heater_resistance_code(cal: Calibration, target_c: int, ambient_c: int) -> int:
    """res_heat_x for a heater target temperature (Bosch float calc_heater_res)."""
    target_c = min(target_c, 400)  # Bosch caps the target at 400 degC
    var1 = cal.par_gh1 / 16.0 + 49.0
    var2 = cal.par_gh2 / 32768.0 * 0.0005 + 0.00235
    var3 = cal.par_gh3 / 1024.0
    var4 = var1 * (1.0 + var2 * target_c)
    var5 = var4 + var3 * ambient_c
    res = 3.4 * (
        var5 * (4.0 / (4.0 + cal.res_heat_range)) * (1.0 / (1.0 + cal.res_heat_val * 0.002)) - 25
    )
    return min(max(int(res), 0), 255)


def gas_wait_code(ms: int) -> int:
    """gas_wait_x encoding: 6-bit value times 4 ** (2-bit multiplier); 0xFF caps it."""
    if ms >= 0xFC0:
        return 0xFF
    factor = 0
    while ms > 0x3F:
        ms //= 4
        factor += 1
    return ms + factor * 64


def gas_wait_decode(code: int) -> int:
    return (code & 0x3F) * (4 ** (code >> 6))


class Bme680:
    """BME680 in forced mode with one heater profile (profile 0)."""

    def __init__(
        self,
        transfer: Transfer,
        sleep_ms: Callable[[int], None],
        *,
        heater_temp_c: int = 320,
        heater_ms: int = 150,
        ambient_c: int = 25,
    ) -> None:
        self._transfer = transfer
        self._sleep_ms = sleep_ms
        self._heater_temp_c = heater_temp_c
        self._heater_ms = heater_ms
        self._ambient_c = ambient_c
        self._cal: Calibration | None = None
        self._ctrl_meas = (OS_T << 5) | (OS_P << 2)

    @property
    def calibration(self) -> Calibration | None:
        return self._cal

    def _read(self, reg: int, n: int) -> bytes:
        data = self._transfer(bytes((reg,)), n)
        if len(data) != n:
            raise Bme680Error(f"short read at 0x{reg:02X}: {len(data)} of {n} bytes")
        return data

    def _write(self, reg: int, value: int) -> None:
        self._transfer(bytes((reg, value & 0xFF)), 0)

    def begin(self) -> None:
        chip_id = self._read(REG_CHIP_ID, 1)[0]
        if chip_id != CHIP_ID:
            raise Bme680Error(f"unexpected chip id 0x{chip_id:02X} (BME680 is 0x{CHIP_ID:02X})")
        self._write(REG_RESET, SOFT_RESET_CMD)
        self._sleep_ms(RESET_WAIT_MS)
        self._cal = Calibration(
            self._read(REG_COEFF_1, 25),
            self._read(REG_COEFF_2, 16),
            self._read(REG_RES_HEAT_VAL, 1)[0],
            self._read(REG_RES_HEAT_RANGE, 1)[0],
            self._read(REG_RANGE_SW_ERR, 1)[0],
        )
        # Read-modify-write keeps the reserved / SPI bits of ctrl_hum and config.
        ctrl_hum = self._read(REG_CTRL_HUM, 1)[0]
        self._write(REG_CTRL_HUM, (ctrl_hum & ~0x07) | OS_H)
        config = self._read(REG_CONFIG, 1)[0]
        self._write(REG_CONFIG, config & ~0x1C)  # IIR filter off
        self._write(REG_CTRL_MEAS, self._ctrl_meas)  # oversampling, mode = sleep
        self._write(
            REG_RES_HEAT_0, heater_resistance_code(self._cal, self._heater_temp_c, self._ambient_c)
        )
        self._write(REG_GAS_WAIT_0, gas_wait_code(self._heater_ms))
        self._write(REG_CTRL_GAS_0, 0x00)  # heater on (heat_off = 0)
        self._write(REG_CTRL_GAS_1, RUN_GAS)  # run_gas, nb_conv = 0 (profile 0)

    def duration_ms(self) -> int:
        """Conversion time as Bosch's bme680_get_profile_dur computes it."""
        cycles = OS_CYCLES[OS_T] + OS_CYCLES[OS_P] + OS_CYCLES[OS_H]
        tph_us = cycles * 1963 + 477 * 4 + 477 * 5 + 500
        return tph_us // 1000 + 1 + gas_wait_decode(gas_wait_code(self._heater_ms))

    def measure(self) -> Measurement:
        cal = self._cal
        if cal is None:
            raise Bme680Error("begin() must be called before measure()")
        self._write(REG_CTRL_MEAS, self._ctrl_meas | MODE_FORCED)
        self._sleep_ms(self.duration_ms())
        for _ in range(POLL_RETRIES):
            d = self._read(REG_FIELD_0, FIELD_LEN)
            if d[0] & NEW_DATA:
                break
            self._sleep_ms(POLL_INTERVAL_MS)
        else:
            raise Bme680Error(
                f"no new data after {POLL_RETRIES} polls (meas_status_0=0x{d[0]:02X})"
            )
        # The BME680 has no CRC, and in sleep mode its field registers hold still: a second
        # read that differs means a byte changed on the wire (a flipped bit goes unnoticed
        # otherwise, and ranges catch only a fifth of those; docs/recording.md).
        again = self._read(REG_FIELD_0, FIELD_LEN)
        if again != d:
            changed = next(i for i in range(FIELD_LEN) if again[i] != d[i])
            raise Bme680Error(
                f"field registers read twice differ at 0x{REG_FIELD_0 + changed:02X}"
                f" (0x{d[changed]:02X}, then 0x{again[changed]:02X}): corrupted on the bus"
            )
        press_adc = (d[2] << 12) | (d[3] << 4) | (d[4] >> 4)
        temp_adc = (d[5] << 12) | (d[6] << 4) | (d[7] >> 4)
        hum_adc = (d[8] << 8) | d[9]
        gas_adc = (d[13] << 2) | (d[14] >> 6)
        gas_range = d[14] & 0x0F
        temperature, t_fine = compensate_temperature(cal, temp_adc)
        gas = None
        if d[14] & GAS_VALID and d[14] & HEAT_STAB:
            gas = compensate_gas(cal, gas_adc, gas_range)
        return Measurement(
            temperature,
            compensate_pressure(cal, t_fine, press_adc) / 100.0,
            compensate_humidity(cal, t_fine, hum_adc),
            gas,
        )
