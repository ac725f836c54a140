"""`[[sim.i2c]] device = "bme680"`: the register-level BME680 (docs/bme680-sim.md)."""

from __future__ import annotations

from pathlib import Path

from harvester.config import SimBme680
from harvester.hal.errors import BackendUnavailable
from harvester.hal.sim.bme680 import Bme680Noise, Bme680Sim
from harvester.hal.sim.parts import SimParts
from harvester.hal.sim.registry import sim_device

TRUTH_KEYS = ("temperature_c", "pressure_hpa", "humidity_rh", "gas_ohm")


def _from_dump(
    config: SimBme680, path: Path, parts: SimParts, noise: Bme680Noise | None
) -> Bme680Sim:
    """Raises BackendUnavailable naming the device and the file if it is unreadable or bad."""
    where = f"bme680 on i2c bus {config.bus} address {config.address:#04x}"
    try:
        text = path.read_text()
    except OSError as exc:
        raise BackendUnavailable(f"{where}: cannot read dump {path}: {exc.strerror}") from exc
    # With a dump, only truth the config states outright replaces the readings the real
    # chip recorded; with none stated, the sim replays them (docs/bme680-sim.md).
    truth = {k: getattr(config, k) for k in TRUTH_KEYS if k in config.model_fields_set}
    try:
        return Bme680Sim.from_dump(text, parts.clock, noise=noise, truth=truth)
    except ValueError as exc:
        raise BackendUnavailable(f"{where}: bad dump {path}: {exc}") from exc


@sim_device(SimBme680)
def bme680(config: SimBme680, parts: SimParts) -> Bme680Sim:
    """Raises BackendUnavailable when the dump cannot be read or parsed, ValueError if the
    address is taken (the config refuses that first)."""
    noise = None
    if config.noise is not None:
        noise = Bme680Noise(**config.noise.model_dump(), seed=parts.seed())
    if config.dump is None:
        sim = Bme680Sim(
            parts.clock,
            temperature_c=config.temperature_c,
            pressure_hpa=config.pressure_hpa,
            humidity_rh=config.humidity_rh,
            gas_ohm=config.gas_ohm,
            noise=noise,
        )
    else:
        sim = _from_dump(config, config.dump, parts, noise)
    parts.i2c.bus(config.bus).attach(config.address, sim)
    return sim
