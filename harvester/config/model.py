"""The node config, validated once at load into frozen objects.

A node config is one TOML file per node; see docs/config.md for every key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from harvester.config.base import (
    Frozen,
    I2CAddress,
    I2CBus,
    LedStrip,
    Pin,
    refuse_repeats,
)
from harvester.config.faults import FaultRule
from harvester.config.linux import LinuxConfig
from harvester.config.mesh import BrokerAddress, HubConfig, MeshConfig, MetricsConfig
from harvester.config.sim import SimConfig
from harvester.constants import LED_MAX_PIXELS, MAX_CALL_TIMEOUT_MS, NATIVE_MONITOR

PLUGIN_NAME = r"^[a-z][a-z0-9-]{0,31}$"
SettingValue = str | int | float | bool


class I2CGrant(Frozen):
    bus: I2CBus
    addresses: tuple[I2CAddress, ...] = Field(min_length=1)


class LedGrant(Frozen):
    """A WS2812B strip (by number) and how many of its first pixels the plugin may set."""

    strip: LedStrip
    pixels: int = Field(ge=1, le=LED_MAX_PIXELS)


class Grants(Frozen):
    """Resources a plugin may touch. An interface with no grant is not linked at all."""

    i2c: tuple[I2CGrant, ...] = ()
    gpio: tuple[Pin, ...] = ()
    dht22: tuple[Pin, ...] = ()
    system_info: bool = False
    leds: tuple[LedGrant, ...] = ()
    buzzer: tuple[Pin, ...] = ()
    # Read the node's latest readings (what a display shows); nothing else of the node.
    readings: bool = False
    # Read (never write) what the hub knows of the fleet: nodes, readings, series, logs,
    # plugins (the dashboard). Only on the hub, which has that data.
    hub_data: bool = False

    @field_validator("leds")
    @classmethod
    def _unique_strips(cls, leds: tuple[LedGrant, ...]) -> tuple[LedGrant, ...]:
        refuse_repeats((g.strip for g in leds), "strip granted twice: {}")
        return leds

    def allows_i2c(self, bus: int, address: int) -> bool:
        return any(g.bus == bus and address in g.addresses for g in self.i2c)

    def led_pixels(self, strip: int) -> int:
        """How many pixels of `strip` are granted (0: the strip is not)."""
        return next((g.pixels for g in self.leds if g.strip == strip), 0)


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
    settings: dict[str, SettingValue] = Field(default_factory=dict)
    # Record this plugin's hardware transactions to a file, or answer them from one
    # instead of the hardware (docs/recording.md); and faults to inject into them.
    record: Path | None = None
    replay: Path | None = None
    faults: tuple[FaultRule, ...] = ()

    @model_validator(mode="after")
    def _record_or_replay(self) -> Self:
        if self.record is not None and self.replay is not None:
            raise ValueError("record and replay exclude each other: give one of them")
        return self

    @property
    def component_name(self) -> str:
        return self.component or self.name

    @property
    def tapped(self) -> bool:
        """Whether its hardware calls are recorded, replayed or faulted."""
        return self.record is not None or self.replay is not None or bool(self.faults)


class NativeConfig(Frozen):
    """Services the host runs itself, outside the sandbox, for boards too small for it."""

    # The health monitor (CPU, memory, SoC temperature, uptime, disk), reporting as the
    # plugin `pizero-monitor` with pi4-monitor's metrics (harvester/node/native_monitor.py).
    monitor: bool = False
    monitor_interval_s: float = Field(default=30.0, ge=0.01, le=86_400)


class ReloadConfig(Frozen):
    """Hot reload (docs/lifecycle.md): a changed component in the plugin folder is loaded
    beside the running version and swapped in once it answers."""

    # Watch plugin_dir and reload changed components without a restart.
    watch: bool = True
    # Quiet time after the last change to a component before it is loaded (a copy in
    # progress, a burst of writes).
    settle_ms: int = Field(default=300, ge=0, le=60_000)
    # A freshly swapped-in version that faults this often within rollback_window_s of its
    # swap is replaced by the version it replaced, and not loaded again.
    rollback_faults: int = Field(default=2, ge=1, le=100)
    rollback_window_s: float = Field(default=120.0, gt=0, le=86_400)


class DeployConfig(Frozen):
    """Signed deploys (docs/lifecycle.md): who may send this node a component."""

    # Public keys trusted to sign components, as `harvester keys list` prints them
    # ("ed25519:<base64>"), and/or a folder whose *.pub files hold one each.
    trusted_keys: tuple[str, ...] = ()
    trusted_keys_dir: Path | None = None


class NodeConfig(Frozen):
    name: str = Field(pattern=PLUGIN_NAME)
    role: Literal["hub", "spoke"] = "spoke"
    backend: Literal["sim", "linux"] = "sim"
    plugin_dir: Path = Path("plugins")
    cache_dir: Path = Path(".harvester/artifacts")
    restart: RestartPolicy = RestartPolicy()
    sim: SimConfig = SimConfig()
    linux: LinuxConfig = LinuxConfig()
    plugins: tuple[PluginConfig, ...] = ()
    native: NativeConfig = NativeConfig()
    # Where the node keeps what must survive a restart: the outbox, the hub's history,
    # the commands it has executed (docs/mesh.md).
    state_dir: Path = Path(".harvester/state")
    # The fleet: without [mesh] the node runs alone.
    mesh: MeshConfig | None = None
    hub: HubConfig | None = None
    metrics: MetricsConfig = MetricsConfig()
    reload: ReloadConfig = ReloadConfig()
    deploy: DeployConfig = DeployConfig()

    @field_validator("plugins")
    @classmethod
    def _unique_plugins(cls, plugins: tuple[PluginConfig, ...]) -> tuple[PluginConfig, ...]:
        refuse_repeats((p.name for p in plugins), "plugin names must be unique; repeated: {}")
        return plugins

    @model_validator(mode="after")
    def _native_name_is_free(self) -> NodeConfig:
        if self.native.monitor and any(p.name == NATIVE_MONITOR for p in self.plugins):
            raise ValueError(
                f"native.monitor reports as {NATIVE_MONITOR!r}: a plugin of that name clashes"
            )
        return self

    @model_validator(mode="after")
    def _hub_table_on_the_hub(self) -> NodeConfig:
        if self.hub is not None and self.role != "hub":
            raise ValueError("[hub] is for the node with role = 'hub'")
        return self

    @model_validator(mode="after")
    def _hub_data_on_the_hub(self) -> NodeConfig:
        holders = [p.name for p in self.plugins if p.grants.hub_data]
        if holders and self.role != "hub":
            raise ValueError(
                f"plugin {holders[0]!r}: grants.hub_data is only for plugins of the hub"
                " (role = 'hub'), which holds the fleet's data"
            )
        return self

    @property
    def broker(self) -> BrokerAddress:
        """Where this node's MQTT client connects: mesh.broker, or a hub's own embedded
        broker. Raises ValueError if neither says (a spoke must be told, by its [mesh]
        table or by joining a cluster)."""
        if self.mesh is not None and self.mesh.broker is not None:
            return self.mesh.broker
        if self.role != "hub" or self.hub_settings.broker != "embedded":
            raise ValueError(
                f"node {self.name!r}: mesh.broker: where is the broker? (give it, or join a"
                f" cluster with --cluster; only a hub running the embedded broker may leave"
                f" it out)"
            )
        embedded = self.hub_settings.embedded
        host = "127.0.0.1" if embedded.host in ("0.0.0.0", "::") else embedded.host
        return BrokerAddress(host=host, port=embedded.port)

    @property
    def hub_settings(self) -> HubConfig:
        """The hub's [hub] table, or its defaults (only meaningful with role = 'hub')."""
        return self.hub or HubConfig()
