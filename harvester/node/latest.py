"""The node's latest reading of every metric: what a display plugin is granted to read.

Runners write it as they publish readings (on the event loop); plugin threads read it
through their host calls, so both sides take the lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from harvester.hal import NodeReading
from harvester.node.events import Reading


class LatestReadings:
    """Implements harvester.hal.NodeReadings for one node."""

    def __init__(self, node_name: str, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._node_name = node_name
        self._monotonic = monotonic
        self._lock = threading.Lock()
        # (plugin, metric) -> (value, unit, when); dicts keep insertion order, so plugins
        # appear in the order they first reported.
        self._latest: dict[tuple[str, str], tuple[float, str, float]] = {}

    @property
    def node_name(self) -> str:
        return self._node_name

    def update(self, plugin: str, readings: Iterable[Reading]) -> None:
        now = self._monotonic()
        with self._lock:
            for r in readings:
                self._latest[(plugin, r.metric)] = (r.value, r.unit, now)

    def forget(self, plugin: str) -> None:
        """Drop a plugin's readings (it was removed or quarantined: they would go stale)."""
        with self._lock:
            for key in [k for k in self._latest if k[0] == plugin]:
                del self._latest[key]

    def latest(self) -> list[NodeReading]:
        now = self._monotonic()
        with self._lock:
            items = list(self._latest.items())
        return [
            NodeReading(plugin, metric, value, unit, max(0, int((now - at) * 1000)))
            for (plugin, metric), (value, unit, at) in items
        ]
