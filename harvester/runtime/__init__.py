"""The sandbox: one wasmtime Engine, precompiled artifacts, plugin instances, supervision."""

from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.engine import EpochTicker, make_engine
from harvester.runtime.errors import (
    PluginContractError,
    PluginCrashed,
    PluginError,
    PluginFault,
    PluginLoadError,
    PluginOutOfMemory,
    PluginReportedError,
    PluginTimeout,
    PluginTrap,
)
from harvester.runtime.plugin import Metric, PluginInstance, PluginReading
from harvester.runtime.supervisor import PluginRunner, Supervisor

__all__ = [
    "ArtifactCache",
    "EpochTicker",
    "Metric",
    "PluginContractError",
    "PluginCrashed",
    "PluginError",
    "PluginFault",
    "PluginInstance",
    "PluginLoadError",
    "PluginOutOfMemory",
    "PluginReading",
    "PluginReportedError",
    "PluginRunner",
    "PluginTimeout",
    "PluginTrap",
    "Supervisor",
    "make_engine",
]
