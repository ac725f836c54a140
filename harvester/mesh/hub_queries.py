"""The hub's read questions, answered in one place: for the web API (harvester/web) and the
dashboard plugin's `hub-data` import (harvester/mesh/hub_data.py) alike, so both give the
same answer in the same shape.

Each answer is a TypedDict of history's row types (and the mesh's PluginInfo); the web
layer serialises it with pydantic against the same types its OpenAPI document is made
from (ANSWERS below), so the document cannot drift from what is sent. A question about a
node that never reported raises NotFound; a malformed argument BadArgument; both name the
culprit. Safe from any thread: history's reads take its reader lock.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import Any, Final, Literal

from pydantic import TypeAdapter
from typing_extensions import TypedDict  # pydantic reads these on Python < 3.12

from harvester.constants import METRIC_NAME_PATTERN, LogLevel
from harvester.mesh.history import (
    MAX_POINTS,
    EventRow,
    HealthRow,
    History,
    Latest,
    LogRow,
    NodeRow,
    Point,
)
from harvester.mesh.payloads import NAME, PluginInfo

MAX_LIMIT: Final = 1000
MAX_SEQ: Final = 2**63 - 1
_NAME = re.compile(NAME)
_METRIC = re.compile(METRIC_NAME_PATTERN)


class QueryError(Exception):
    case: Literal["not-found", "bad-argument"] = "bad-argument"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(QueryError):
    case = "not-found"


class BadArgument(QueryError):
    case = "bad-argument"


# -- the answers -------------------------------------------------------------------------


class NodeStatus(TypedDict):
    name: str
    role: str
    state: str
    last_seen: float | None
    since: float | None
    version: str
    reason: str
    health: dict[str, float] | None  # the newest health report's metrics
    health_at: float | None


class NodeList(TypedDict):
    nodes: list[NodeStatus]


class PendingDeploy(TypedDict):
    """A signed deploy the hub holds for the node until it answers (docs/lifecycle-deploy.md)."""

    plugin: str
    sequence: int
    version: str  # the deployed component's sha256, first 16 hex digits
    key_id: str
    submitted_at: float


class NodeDetail(TypedDict):
    node: NodeStatus
    plugins: list[PluginInfo]
    deploys: list[PendingDeploy]  # pending only; GET /api/deploys has their whole story


class PluginList(TypedDict):
    node: str
    plugins: list[PluginInfo]


class LatestList(TypedDict):
    node: str
    latest: list[Latest]


class HealthList(TypedDict):
    node: str
    health: list[HealthRow]


class LogPage(TypedDict):
    node: str
    logs: list[LogRow]
    next_before: int | None  # the `before` of the next page; null on the last one


class EventList(TypedDict):
    node: str
    events: list[EventRow]


class Series(TypedDict):
    node: str
    plugin: str
    metric: str
    start: float
    end: float
    resolution: float
    points: list[Point]


# Every answer type by name (the OpenAPI document's component schemas).
ANSWERS: Final = (
    NodeList, NodeDetail, PluginList, LatestList, HealthList, LogPage, EventList, Series,
)  # fmt: skip


@functools.cache
def adapter(answer: type) -> TypeAdapter[Any]:
    """pydantic's (de)serialiser and JSON Schema of an answer type (made once: costly)."""
    return TypeAdapter(answer)


def to_json(answer: type, value: object) -> bytes:
    """`value`, an `answer`, as compact JSON."""
    return adapter(answer).dump_json(value)


# -- checks ------------------------------------------------------------------------------


def check_name(what: str, value: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise BadArgument(f"{what}: {value!r} is not a valid name")
    return value


def check_metric(what: str, value: str) -> str:
    if not isinstance(value, str) or not _METRIC.fullmatch(value):
        raise BadArgument(f"{what}: {value!r} is not a metric name")
    return value


def check_range(what: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadArgument(f"{what}: {value!r} is not a whole number from {low} to {high}")
    return value


def check_finite(what: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadArgument(f"{what}: must be a finite number")
    return float(value)


def check_level(value: str | None) -> LogLevel | None:
    if value is None or value == "":
        return None
    if value not in LogLevel.__members__.values():
        raise BadArgument(f"level: {value!r} is not one of {', '.join(LogLevel)}")
    return LogLevel(value)


# -- the questions -----------------------------------------------------------------------


class HubQueries:
    """`nodes` says which nodes there are, as the collector judges them (one silent for
    too long is offline); everything else is history's."""

    def __init__(self, history: History, nodes: Callable[[], list[NodeRow]]) -> None:
        self.history = history
        self._nodes = nodes
        # The deploy desk's pending deploys of a node (set once the desk runs).
        self.pending_deploys: Callable[[str], list[PendingDeploy]] = lambda node: []

    def _status(self, row: NodeRow, health: HealthRow | None) -> NodeStatus:
        return NodeStatus(
            name=row.name, role=row.role, state=row.state, last_seen=row.last_seen,
            since=row.since, version=row.version, reason=row.reason,
            health=health.metrics if health else None,
            health_at=health.at if health else None,
        )  # fmt: skip

    def known(self, node: str) -> NodeRow:
        """The node's status row; NotFound if it never reported."""
        check_name("node", node)
        row = next((r for r in self._nodes() if r.name == node), None)
        if row is None:
            raise NotFound(f"node: no node {node!r} has reported to this hub")
        return row

    def nodes(self) -> NodeList:
        health = self.history.latest_health()
        return NodeList(nodes=[self._status(r, health.get(r.name)) for r in self._nodes()])

    def node(self, node: str) -> NodeDetail:
        row = self.known(node)
        newest = self.history.health(node, limit=1)
        return NodeDetail(
            node=self._status(row, newest[0] if newest else None),
            plugins=self._plugins(node),
            deploys=self.pending_deploys(node),
        )

    def _plugins(self, node: str) -> list[PluginInfo]:
        payload = self.history.plugins(node)
        return list(payload.plugins) if payload else []

    def plugins(self, node: str) -> PluginList:
        self.known(node)
        return PluginList(node=node, plugins=self._plugins(node))

    def latest(self, node: str) -> LatestList:
        self.known(node)
        return LatestList(node=node, latest=self.history.latest(node))

    def health(self, node: str, *, since: float | None = None, limit: int = 100) -> HealthList:
        self.known(node)
        check_range("limit", limit, 1, MAX_LIMIT)
        if since is not None:
            check_finite("since", since)
        return HealthList(node=node, health=self.history.health(node, since=since, limit=limit))

    def logs(
        self,
        node: str,
        *,
        min_level: str | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> LogPage:
        self.known(node)
        level = check_level(min_level)
        check_range("limit", limit, 1, MAX_LIMIT)
        if before is not None:
            check_range("before", before, 1, MAX_SEQ)
        rows = self.history.logs(node, min_level=level, before=before, limit=limit)
        more = rows[-1].seq if rows and len(rows) == limit else None
        return LogPage(node=node, logs=rows, next_before=more)

    def events(
        self, node: str, *, plugin: str | None = None, before: int | None = None, limit: int = 100
    ) -> EventList:
        self.known(node)
        if plugin is not None:
            check_name("plugin", plugin)
        check_range("limit", limit, 1, MAX_LIMIT)
        if before is not None:
            check_range("before", before, 1, MAX_SEQ)
        rows = self.history.events(node, plugin=plugin, before=before, limit=limit)
        return EventList(node=node, events=rows)

    def series(
        self, node: str, plugin: str, metric: str, start: float, end: float, resolution: float
    ) -> Series:
        """A node that never reported, or a metric it never sent, has no points (not an
        error: a chart for it is empty until data comes)."""
        check_name("node", node)
        check_name("plugin", plugin)
        check_metric("metric", metric)
        start = check_finite("start", start)
        end = check_finite("end", end)
        resolution = check_finite("resolution", resolution)
        if start >= end:
            raise BadArgument("start: must be before end")
        if resolution < 1:
            raise BadArgument(f"resolution: must be at least 1 s, not {resolution:g}")
        buckets = math.floor(end / resolution) - math.floor(start / resolution) + 1
        if buckets > MAX_POINTS:
            raise BadArgument(
                f"resolution: {buckets} points asked for (range {end - start:.0f} s at"
                f" {resolution:g} s); the limit is {MAX_POINTS}: choose a coarser resolution"
            )
        points = self.history.series(node, plugin, metric, start, end, resolution)
        return Series(
            node=node, plugin=plugin, metric=metric,
            start=start, end=end, resolution=resolution, points=points,
        )  # fmt: skip
