"""Node configuration: one TOML file per node, validated at load."""

from harvester.config.faults import FaultRule
from harvester.config.linux import LinuxBuzzer, LinuxConfig, LinuxDht22, LinuxLedStrip
from harvester.config.load import ConfigError, load_node_config
from harvester.config.model import (
    DeployConfig,
    Grants,
    I2CGrant,
    LedGrant,
    Limits,
    NativeConfig,
    NodeConfig,
    PluginConfig,
    ReloadConfig,
    RestartPolicy,
)
from harvester.config.sim import (
    SimBme680,
    SimBuzzer,
    SimConfig,
    SimDevice,
    SimDht22,
    SimDrift,
    SimGpioPin,
    SimI2CDevice,
    SimLedStrip,
    SimNoise,
    SimSsd1306,
)

__all__ = [
    "ConfigError",
    "DeployConfig",
    "FaultRule",
    "Grants",
    "I2CGrant",
    "LedGrant",
    "Limits",
    "LinuxBuzzer",
    "LinuxConfig",
    "LinuxDht22",
    "LinuxLedStrip",
    "NativeConfig",
    "NodeConfig",
    "PluginConfig",
    "ReloadConfig",
    "RestartPolicy",
    "SimBme680",
    "SimBuzzer",
    "SimConfig",
    "SimDevice",
    "SimDht22",
    "SimDrift",
    "SimGpioPin",
    "SimI2CDevice",
    "SimLedStrip",
    "SimNoise",
    "SimSsd1306",
    "load_node_config",
]
