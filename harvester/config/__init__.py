"""Node configuration: one TOML file per node, validated at load."""

from harvester.config.load import ConfigError, load_node_config
from harvester.config.model import (
    Grants,
    I2CGrant,
    LedGrant,
    Limits,
    NativeConfig,
    NodeConfig,
    PluginConfig,
    RestartPolicy,
)
from harvester.config.sim import (
    SimBme680,
    SimConfig,
    SimDevice,
    SimDht22,
    SimI2CDevice,
    SimNoise,
)

__all__ = [
    "ConfigError",
    "Grants",
    "I2CGrant",
    "LedGrant",
    "Limits",
    "NativeConfig",
    "NodeConfig",
    "PluginConfig",
    "RestartPolicy",
    "SimBme680",
    "SimConfig",
    "SimDevice",
    "SimDht22",
    "SimI2CDevice",
    "SimNoise",
    "load_node_config",
]
