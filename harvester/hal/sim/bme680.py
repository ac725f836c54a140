"""Register-level BME680 simulator (I2C device side).

Modelled: chip id, soft reset, calibration NVM, forced-mode conversions timed on a
SimClock (Bosch's bme680_get_profile_dur), meas_status_0, field data derived from physical
truth through the inverse of Bosch's compensation, skipped-measurement markers, gas
range/ADC selection and heater plausibility (heat_stab). Not modelled: the IIR filter
(config.filter is stored but ignored), heater thermal behaviour (gas resistance is simply the
truth), SPI and its memory pages, the ~2 ms start-up after a soft reset, sequential/parallel
modes (only sleep and forced exist on the BME680).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace

from harvester.hal.sim import bme680_math as bm
from harvester.hal.sim.clock import SimClock
from harvester.hal.sim.regdump import parse_register_dump

# Register map (BME680 datasheet, section 5.2).
REG_MEAS_STATUS_0 = 0x1D
REG_PRESS_MSB = 0x1F
REG_TEMP_MSB = 0x22
REG_HUM_MSB = 0x25
REG_GAS_R_MSB = 0x2A
REG_GAS_R_LSB = 0x2B
REG_IDAC_HEAT_0 = 0x50
REG_RES_HEAT_0 = 0x5A
REG_GAS_WAIT_0 = 0x64
REG_CTRL_GAS_0 = 0x70
REG_CTRL_GAS_1 = 0x71
REG_CTRL_HUM = 0x72
REG_STATUS = 0x73
REG_CTRL_MEAS = 0x74
REG_CONFIG = 0x75
REG_CHIP_ID = 0xD0
REG_RESET = 0xE0

CHIP_ID = 0x61
SOFT_RESET_CMD = 0xB6
FIELD_START, FIELD_END = REG_PRESS_MSB, REG_GAS_R_LSB  # field block replayed from dumps

NEW_DATA = 0x80
GAS_MEASURING = 0x40
MEASURING = 0x20
GAS_VALID = 0x20
HEAT_STAB = 0x10
RUN_GAS = 0x10
NB_CONV_MASK = 0x0F
MODE_MASK = 0x03
MODE_FORCED = 0x01
SKIPPED_20BIT = 0x80000
SKIPPED_16BIT = 0x8000

# Only control registers take writes; everything else is read-only on the chip.
WRITABLE = frozenset(range(REG_IDAC_HEAT_0, REG_GAS_WAIT_0 + 10)) | frozenset(
    range(REG_CTRL_GAS_0, REG_CONFIG + 1)
)
# osrs_x code -> conversion cycles (codes 5..7 all mean x16).
OS_CYCLES = (0, 1, 2, 4, 8, 16, 16, 16)


def gas_wait_ms(code: int) -> int:
    """Decode gas_wait_x: bits 5:0 times a multiplier of 4 ** bits 7:6."""
    return (code & 0x3F) * (4 ** (code >> 6))


def profile_duration_ms(ctrl_meas: int, ctrl_hum: int, run_gas: bool, gas_wait: int) -> int:
    """Measurement duration as Bosch's bme680_get_profile_dur computes it."""
    cycles = (
        OS_CYCLES[ctrl_meas >> 5] + OS_CYCLES[(ctrl_meas >> 2) & 0x07] + OS_CYCLES[ctrl_hum & 0x07]
    )
    tph_us = cycles * 1963 + 477 * 4 + 477 * 5 + 500
    return tph_us // 1000 + 1 + (gas_wait_ms(gas_wait) if run_gas else 0)


@dataclass(frozen=True)
class Bme680Noise:
    """Gaussian noise (standard deviations) added to the truth at each conversion."""

    temperature_c: float = 0.0
    pressure_hpa: float = 0.0
    humidity_rh: float = 0.0
    gas_fraction: float = 0.0  # relative
    seed: int = 0


@dataclass(frozen=True)
class _Truth:
    temperature_c: float
    pressure_hpa: float
    humidity_rh: float
    gas_ohm: float


@dataclass(frozen=True)
class _Conversion:
    end_ms: float
    fields: bytes  # registers FIELD_START..FIELD_END
    gas_index: int  # gas_meas_index reported in meas_status_0


def _power_on_registers(nvm: dict[int, int], chip_id: int) -> bytearray:
    regs = bytearray(256)
    for reg, value in nvm.items():
        regs[reg] = value
    regs[REG_CHIP_ID] = chip_id
    # Datasheet reset values of the data registers: "skipped" markers.
    regs[REG_PRESS_MSB] = regs[REG_TEMP_MSB] = regs[REG_HUM_MSB] = 0x80
    return regs


class Bme680Sim:
    """A BME680 behind an I2C address: ``write``/``read`` are single I2C messages."""

    def __init__(
        self,
        clock: SimClock,
        *,
        temperature_c: float = 25.0,
        pressure_hpa: float = 1013.25,
        humidity_rh: float = 40.0,
        gas_ohm: float = 50_000.0,
        calibration: bytes | None = None,
        noise: Bme680Noise | None = None,
        chip_id: int = CHIP_ID,
        replay_fields: bytes | None = None,
    ) -> None:
        """``calibration`` is a 256-byte register image (only the NVM regions are used).

        ``replay_fields`` (13 bytes for 0x1F..0x2B) makes every conversion report exactly
        those raw values instead of values derived from the truth.
        """
        if calibration is None:
            self._nvm = bm.encode_calibration(bm.DEFAULT_CALIBRATION)
        else:
            if len(calibration) != 256:
                raise ValueError(
                    f"calibration must be a 256-byte register image, got {len(calibration)} bytes"
                )
            self._nvm = {reg: calibration[reg] for reg in bm.CALIBRATION_REGS}
        if replay_fields is not None and len(replay_fields) != FIELD_END - FIELD_START + 1:
            raise ValueError("replay_fields must cover registers 0x1F..0x2B (13 bytes)")
        self._chip_id = chip_id
        self._replay = bytes(replay_fields) if replay_fields is not None else None
        self._clock = clock
        self._noise = noise
        self._rng = random.Random(noise.seed if noise else 0)
        self._truth = _Truth(temperature_c, pressure_hpa, humidity_rh, gas_ohm)
        self._lock = threading.RLock()
        self._regs = _power_on_registers(self._nvm, chip_id)
        self._ptr = 0
        self._conversion: _Conversion | None = None
        img = bytearray(256)
        for reg, value in self._nvm.items():
            img[reg] = value
        self.calibration = bm.decode_calibration(bytes(img))

    @classmethod
    def from_dump(
        cls,
        text: str,
        clock: SimClock,
        *,
        noise: Bme680Noise | None = None,
        truth: Mapping[str, float] | None = None,
    ) -> Bme680Sim:
        """Build from a register dump (see regdump). Without truth, replay its field data.

        `truth` takes the constructor's keywords (temperature_c, pressure_hpa, humidity_rh,
        gas_ohm); the calibration and chip id always come from the dump.
        """
        truth = dict(truth or {})
        regs = parse_register_dump(text)
        replay = None if truth else regs[FIELD_START : FIELD_END + 1]
        return cls(
            clock,
            calibration=regs,
            chip_id=regs[REG_CHIP_ID],
            noise=noise,
            replay_fields=replay,
            **truth,
        )

    def set_conditions(
        self,
        *,
        temperature_c: float | None = None,
        pressure_hpa: float | None = None,
        humidity_rh: float | None = None,
        gas_ohm: float | None = None,
    ) -> None:
        """Change the truth; takes effect at the next conversion start."""
        changes = {
            k: v
            for k, v in (
                ("temperature_c", temperature_c),
                ("pressure_hpa", pressure_hpa),
                ("humidity_rh", humidity_rh),
                ("gas_ohm", gas_ohm),
            )
            if v is not None
        }
        with self._lock:
            self._truth = replace(self._truth, **changes)

    def registers(self) -> bytes:
        """Snapshot of all 256 registers as a bus read would see them now."""
        with self._lock:
            self._update()
            return bytes(self._regs)

    # --- I2C device protocol ---

    def write(self, data: bytes) -> None:
        with self._lock:
            self._update()
            if not data:
                return  # address-only write (a probe)
            self._ptr = data[0]
            for i in range(0, len(data) - 1, 2):
                self._write_register(data[i], data[i + 1])
            if len(data) > 1 and len(data) % 2:
                self._ptr = data[-1]  # a trailing lone byte only moves the pointer

    def read(self, length: int) -> bytes:
        with self._lock:
            self._update()
            out = bytes(self._regs[(self._ptr + i) & 0xFF] for i in range(length))
            self._ptr = (self._ptr + length) & 0xFF
            return out

    # --- internals ---

    def _write_register(self, reg: int, value: int) -> None:
        if reg == REG_RESET:
            if value == SOFT_RESET_CMD:
                self._regs = _power_on_registers(self._nvm, self._chip_id)
                self._conversion = None
            return
        if reg not in WRITABLE:
            return
        if reg == REG_CTRL_MEAS and self._conversion is not None:
            # Settings were latched at conversion start; mode reads back forced until done.
            self._regs[reg] = (value & ~MODE_MASK) | MODE_FORCED
            return
        self._regs[reg] = value
        if reg == REG_CTRL_MEAS and value & MODE_MASK == MODE_FORCED:
            self._start_conversion()

    def _start_conversion(self) -> None:
        ctrl_meas, ctrl_hum = self._regs[REG_CTRL_MEAS], self._regs[REG_CTRL_HUM]
        gas1 = self._regs[REG_CTRL_GAS_1]
        run_gas = bool(gas1 & RUN_GAS)
        profile = min(gas1 & NB_CONV_MASK, 9)
        gas_wait = self._regs[REG_GAS_WAIT_0 + profile]
        duration = profile_duration_ms(ctrl_meas, ctrl_hum, run_gas, gas_wait)
        if self._replay is not None:
            fields = self._replay
        else:
            stable = gas_wait != 0 and self._regs[REG_RES_HEAT_0 + profile] != 0
            fields = self._fields_from_truth(ctrl_meas, ctrl_hum, run_gas, stable)
        self._conversion = _Conversion(self._clock.elapsed_ms() + duration, fields, profile)
        busy = MEASURING | (GAS_MEASURING if run_gas else 0)
        self._regs[REG_MEAS_STATUS_0] = busy | profile  # new_data cleared

    def _update(self) -> None:
        conv = self._conversion
        if conv is None or self._clock.elapsed_ms() < conv.end_ms:
            return
        self._regs[FIELD_START : FIELD_END + 1] = conv.fields
        self._regs[REG_MEAS_STATUS_0] = NEW_DATA | conv.gas_index
        self._regs[REG_CTRL_MEAS] &= ~MODE_MASK & 0xFF  # back to sleep
        self._conversion = None

    def _sample_truth(self) -> _Truth:
        t, n = self._truth, self._noise
        if n is None:
            return t
        g = self._rng.gauss
        return _Truth(
            t.temperature_c + g(0, n.temperature_c),
            t.pressure_hpa + g(0, n.pressure_hpa),
            min(max(t.humidity_rh + g(0, n.humidity_rh), 0.0), 100.0),
            max(t.gas_ohm * (1 + g(0, n.gas_fraction)), 1.0),
        )

    def _fields_from_truth(
        self, ctrl_meas: int, ctrl_hum: int, run_gas: bool, stable: bool
    ) -> bytes:
        cal, truth = self.calibration, self._sample_truth()
        t_adc = bm.invert_temperature(cal, truth.temperature_c)
        # t_fine comes from the true temperature even when its reading is skipped.
        _, t_fine = bm.comp_temperature(cal, t_adc)
        p_adc = bm.invert_pressure(cal, t_fine, truth.pressure_hpa)
        h_adc = bm.invert_humidity(cal, t_fine, truth.humidity_rh)
        if not ctrl_meas >> 5:
            t_adc = SKIPPED_20BIT
        if not (ctrl_meas >> 2) & 0x07:
            p_adc = SKIPPED_20BIT
        if not ctrl_hum & 0x07:
            h_adc = SKIPPED_16BIT
        gas_adc = gas_range = gas_flags = 0
        if run_gas:
            gas_adc, gas_range = bm.invert_gas(cal, truth.gas_ohm)
            gas_flags = GAS_VALID | (HEAT_STAB if stable else 0)
        fields = bytearray(FIELD_END - FIELD_START + 1)
        for reg, adc in ((REG_PRESS_MSB, p_adc), (REG_TEMP_MSB, t_adc)):
            i = reg - FIELD_START
            fields[i : i + 3] = bytes(((adc >> 12) & 0xFF, (adc >> 4) & 0xFF, (adc & 0x0F) << 4))
        i = REG_HUM_MSB - FIELD_START
        fields[i : i + 2] = bytes((h_adc >> 8, h_adc & 0xFF))
        fields[REG_GAS_R_MSB - FIELD_START] = gas_adc >> 2
        fields[REG_GAS_R_LSB - FIELD_START] = ((gas_adc & 0x03) << 6) | gas_flags | gas_range
        return bytes(fields)
