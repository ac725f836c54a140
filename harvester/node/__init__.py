"""A node at run time: events it reports, its plugins' logs, and the loop that runs it."""

from harvester.node.events import (
    Event,
    EventBus,
    LogEvent,
    Reading,
    ReadingsEvent,
    StateEvent,
)

__all__ = ["Event", "EventBus", "LogEvent", "Reading", "ReadingsEvent", "StateEvent"]
