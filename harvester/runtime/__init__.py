"""The sandbox: one wasmtime Engine, precompiled artifacts, plugin instances and their threads.

It knows nothing of nodes, buses or the network (those are harvester.node and above).
"""

from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.deadline import CallDeadline
from harvester.runtime.engine import EpochTicker, make_engine
from harvester.runtime.errors import (
    HostError,
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
from harvester.runtime.host_api import GuestLog
from harvester.runtime.http import HttpHandlerExport, HttpRequest, HttpResponse
from harvester.runtime.hub_data import HubData, HubDataError
from harvester.runtime.loader import LoadedComponent, load_component
from harvester.runtime.plugin import PluginInstance
from harvester.runtime.sensor import Metric, PluginReading, SensorExport
from harvester.runtime.worker import InstanceThread

__all__ = [
    "ArtifactCache",
    "CallDeadline",
    "EpochTicker",
    "GuestLog",
    "HostError",
    "HttpHandlerExport",
    "HttpRequest",
    "HttpResponse",
    "HubData",
    "HubDataError",
    "InstanceThread",
    "LoadedComponent",
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
    "PluginTimeout",
    "PluginTrap",
    "SensorExport",
    "load_component",
    "make_engine",
]
