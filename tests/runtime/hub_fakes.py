"""A stand-in for the hub's HubData provider (the real one is the mesh layer's): it
records what it was asked, and can be made to fail or to answer too much."""

from __future__ import annotations

import json
from typing import Any

from harvester.constants import HUB_DATA_MAX_ANSWER
from harvester.runtime.hub_data import HubDataError


class FakeHubData:
    """Knows one node, "pi4". `broken`: every call raises a RuntimeError (a host bug);
    `huge`: nodes() answers more than a plugin may be handed."""

    def __init__(self, *, broken: bool = False, huge: bool = False) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self._broken, self._huge = broken, huge

    def _seen(self, *call: Any) -> None:
        self.calls.append(call)
        if self._broken:
            raise RuntimeError("the history database is gone")

    def _known(self, node: str) -> None:
        if node != "pi4":
            raise HubDataError("not-found", f"no node {node!r}")

    def nodes(self) -> str:
        self._seen("nodes")
        if self._huge:
            return json.dumps({"nodes": ["x" * HUB_DATA_MAX_ANSWER]})
        return json.dumps({"nodes": ["pi4"]})

    def node(self, node: str) -> str:
        self._seen("node", node)
        self._known(node)
        return json.dumps({"node": {"name": node}, "plugins": []})

    def latest(self, node: str) -> str:
        self._seen("latest", node)
        self._known(node)
        return json.dumps({"node": node, "latest": []})

    def logs(self, node: str, min_level: str, limit: int) -> str:
        self._seen("logs", node, min_level, limit)
        self._known(node)
        return json.dumps({"logs": f"{node} {min_level} {limit}"})

    def series(
        self, node: str, plugin: str, metric: str, start: float, end: float, resolution: float
    ) -> str:
        self._seen("series", node, plugin, metric, start, end, resolution)
        self._known(node)
        return json.dumps({"points": []})
