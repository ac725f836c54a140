"""A node at run time: its plugins' runners and supervisor, the events it reports, its logs."""

from harvester.node.events import (
    Event,
    EventBus,
    LogEvent,
    Reading,
    ReadingsEvent,
    StateEvent,
    Subscription,
)
from harvester.node.node import Node, forwarding, run_node
from harvester.node.plugin_log import PluginLog
from harvester.node.runner import CommandUnavailable, HttpUnavailable, PluginRunner
from harvester.node.supervisor import Supervisor

__all__ = [
    "CommandUnavailable",
    "Event",
    "EventBus",
    "HttpUnavailable",
    "LogEvent",
    "Node",
    "PluginLog",
    "PluginRunner",
    "Reading",
    "ReadingsEvent",
    "StateEvent",
    "Subscription",
    "Supervisor",
    "forwarding",
    "run_node",
]
