"""Node configuration: one TOML file per node, validated at load."""

from harvester.config.faults import FaultRule
from harvester.config.load import ConfigError, load_node_config
from harvester.config.model import (
    Grants,
    I2CGrant,
    LedGrant,
    Limits,
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
    "FaultRule",
    "Grants",
    "I2CGrant",
    "LedGrant",
    "Limits",
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
