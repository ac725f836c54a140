"""The hub's `hub-data` provider (harvester/runtime/hub_data.py's HubData): what a plugin
granted `hub_data` (the dashboard) reads, answered by HubQueries as JSON text in the same
shapes as the web API.

Called from plugin instance threads: HubQueries is thread-safe (history's reads take its
reader lock). A closed or broken history is `unavailable`, never an exception the plugin
would trap on.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

from harvester.mesh.hub_queries import (
    MAX_LIMIT,
    HubQueries,
    LatestList,
    LogPage,
    NodeDetail,
    NodeList,
    QueryError,
    Series,
    check_range,
    to_json,
)
from harvester.runtime.hub_data import HubDataError

log = logging.getLogger("harvester.mesh.hub_data")


class HubDataProvider:
    """HubData over `queries`."""

    def __init__(self, queries: HubQueries) -> None:
        self._queries = queries

    def _answer(self, answer: type, ask: Callable[[], object]) -> str:
        try:
            return to_json(answer, ask()).decode()
        except QueryError as exc:
            raise HubDataError(exc.case, exc.message) from None
        except (sqlite3.Error, OSError) as exc:
            log.warning("hub-data: history cannot answer: %s", exc)
            raise HubDataError("unavailable", f"the hub's history cannot answer: {exc}") from None

    def nodes(self) -> str:
        return self._answer(NodeList, self._queries.nodes)

    def node(self, node: str) -> str:
        return self._answer(NodeDetail, lambda: self._queries.node(node))

    def latest(self, node: str) -> str:
        return self._answer(LatestList, lambda: self._queries.latest(node))

    def logs(self, node: str, min_level: str, limit: int) -> str:
        def ask() -> LogPage:
            check_range("limit", limit, 1, MAX_LIMIT)
            return self._queries.logs(node, min_level=min_level or None, limit=limit)

        return self._answer(LogPage, ask)

    def series(
        self, node: str, plugin: str, metric: str, start: float, end: float, resolution: float
    ) -> str:
        return self._answer(
            Series, lambda: self._queries.series(node, plugin, metric, start, end, resolution)
        )
