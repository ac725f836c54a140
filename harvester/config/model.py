"""The node config, validated once at load into frozen objects.

A node config is one TOML file per node; see docs/config.md for every key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harvester.constants import MAX_CALL_TIMEOUT_MS

PLUGIN_NAME = r"^[a-z][a-z0-9-]{0,31}$"
I2CAddress = Annotated[int, Field(ge=0x03, le=0x77)]  # the 7-bit range that is not reserved
Pin = Annotated[int, Field(ge=0, le=53)]  # BCM numbering on the Pi's 54-pin controller
SettingValue = str | int | float | bool


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class I2CGrant(Frozen):
    bus: int = Field(ge=0, le=255)
    addresses: tuple[I2CAddress, ...] = Field(min_length=1)


class Grants(Frozen):
    """Resources a plugin may touch. An interface with no grant is not linked at all."""

    i2c: tuple[I2CGrant, ...] = ()
    gpio: tuple[Pin, ...] = ()
    dht22: tuple[Pin, ...] = ()
    system_info: bool = False

    def allows_i2c(self, bus: int, address: int) -> bool:
        return any(g.bus == bus and address in g.addresses for g in self.i2c)


class Limits(Frozen):
    memory_mb: int = Field(default=64, ge=8, le=1024)
    # Wall-clock deadline for one call into the plugin (includes the plugin's host calls).
    call_timeout_ms: int = Field(default=2000, ge=20, le=MAX_CALL_TIMEOUT_MS)


class RestartPolicy(Frozen):
    """How faults are answered: re-instantiate after a growing pause, give up after many."""

    backoff_initial_s: float = Field(default=1.0, gt=0, le=3600)
    backoff_max_s: float = Field(default=60.0, gt=0, le=86_400)
    max_faults: int = Field(default=5, ge=1, le=1000)
    fault_window_s: float = Field(default=600.0, gt=0)

    @model_validator(mode="after")
    def _backoff_order(self) -> RestartPolicy:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must not be smaller than backoff_initial_s")
        return self


class PluginConfig(Frozen):
    name: str = Field(pattern=PLUGIN_NAME)
    # The component file is `<plugin_dir>/<component>.wasm`; defaults to the name.
    component: str | None = Field(default=None, pattern=PLUGIN_NAME)
    poll_interval_s: float = Field(default=10.0, ge=0.01, le=86_400)
    limits: Limits = Limits()
    grants: Grants = Grants()
    settings: dict[str, SettingValue] = {}

    @property
    def component_name(self) -> str:
        return self.component or self.name


class SimNoise(Frozen):
    temperature_c: float = Field(default=0.02, ge=0, le=10)
    pressure_hpa: float = Field(default=0.05, ge=0, le=50)
    humidity_rh: float = Field(default=0.2, ge=0, le=20)
    gas_fraction: float = Field(default=0.01, ge=0, le=1)


class SimBme680(Frozen):
    device: Literal["bme680"]
    bus: int = Field(default=1, ge=0, le=255)
    address: I2CAddress = 0x77
    temperature_c: float = Field(default=22.0, ge=-40, le=85)
    pressure_hpa: float = Field(default=1013.25, ge=300, le=1100)
    humidity_rh: float = Field(default=45.0, ge=0, le=100)
    gas_ohm: float = Field(default=50_000.0, gt=0)
    # An `i2cdump -y 1 0x77` capture or 256 hex bytes; see docs/bme680-sim.md.
    dump: Path | None = None
    # Gaussian noise around the truth, as a real chip shows (standard deviations).
    noise: SimNoise | None = None


class SimDht22(Frozen):
    pin: Pin = 4
    temperature_c: float = Field(default=21.0, ge=-40, le=80)
    humidity_rh: float = Field(default=50.0, ge=0, le=100)
    # Share of reads that fail, as the real sensor's do now and then.
    failure_rate: float = Field(default=0.05, ge=0, le=1)


class SimConfig(Frozen):
    # 1.0 = device timing in real time; 0 = sleeps return at once (tests, benchmarks).
    time_scale: float = Field(default=1.0, ge=0, le=100)
    seed: int = 0
    i2c: tuple[SimBme680, ...] = ()
    dht22: tuple[SimDht22, ...] = ()
    cpu_temp_c: float = Field(default=48.0, ge=-40, le=125)

    @field_validator("i2c")
    @classmethod
    def _unique_addresses(cls, devices: tuple[SimBme680, ...]) -> tuple[SimBme680, ...]:
        seen: set[tuple[int, int]] = set()
        for dev in devices:
            key = (dev.bus, dev.address)
            if key in seen:
                raise ValueError(f"two devices on bus {dev.bus} at address {dev.address:#04x}")
            seen.add(key)
        return devices


class NodeConfig(Frozen):
    name: str = Field(pattern=PLUGIN_NAME)
    role: Literal["hub", "spoke"] = "spoke"
    backend: Literal["sim", "linux"] = "sim"
    plugin_dir: Path = Path("plugins")
    cache_dir: Path = Path(".harvester/artifacts")
    restart: RestartPolicy = RestartPolicy()
    sim: SimConfig = SimConfig()
    plugins: tuple[PluginConfig, ...] = ()

    @field_validator("plugins")
    @classmethod
    def _unique_plugins(cls, plugins: tuple[PluginConfig, ...]) -> tuple[PluginConfig, ...]:
        names = [p.name for p in plugins]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"plugin names must be unique; repeated: {', '.join(dupes)}")
        return plugins
