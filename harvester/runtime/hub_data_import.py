"""The host side of `hub-data`: each WIT function checks its arguments, asks the node's
HubData provider and hands back its JSON text or the WIT `query-error`.

Arguments are checked here, before the provider sees them (a limit of 1-1000, finite
numbers, a known level), so every provider gets sane input. An answer larger than
HUB_DATA_MAX_ANSWER is not handed over (`unavailable`, naming its size): a plugin cannot
make the host copy an unbounded answer into its memory. A node without a provider answers
`unavailable` to every call. A provider's HubDataError becomes its case; any other
exception is the caller's (host_api's guard answers it `unavailable` and logs it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from wasmtime.component import Variant

from harvester.constants import HUB_DATA_MAX_ANSWER, HUB_DATA_MAX_LIMIT, LogLevel
from harvester.runtime.hub_data import HubData, HubDataCase, HubDataError

MAX_NAME = 256  # a node, plugin or metric name, in characters
_LEVELS = frozenset(LogLevel)
Answer = str | Variant


def query_error(case: HubDataCase, message: str) -> Variant:
    return Variant(case, message)


def unavailable_on_error(exc: Exception) -> Variant:
    """What a call answers when the host itself failed (the guard logs the exception)."""
    return query_error("unavailable", f"host error: {type(exc).__name__}")


def _name(what: str, value: str) -> None:
    if not value or len(value) > MAX_NAME:
        raise HubDataError("bad-argument", f"{what} must be 1-{MAX_NAME} characters")


def _finite(what: str, value: float) -> None:
    if not math.isfinite(value):
        raise HubDataError("bad-argument", f"{what} must be a finite number, got {value!r}")


class HubDataImport:
    """The five functions, as host_api defines them. `provider` None: this node has no
    hub data (not the hub, or its history is not open)."""

    def __init__(self, provider: HubData | None) -> None:
        self._provider = provider

    def functions(self) -> dict[str, Callable[..., Answer]]:
        return {
            "nodes": self.nodes,
            "node": self.node,
            "latest": self.latest,
            "logs": self.logs,
            "series": self.series,
        }

    def _ask(self, question: Callable[[HubData], Any]) -> Answer:
        provider = self._provider
        if provider is None:
            return query_error("unavailable", "this node has no hub data")
        try:
            answer = question(provider)
        except HubDataError as exc:
            return query_error(exc.case, exc.message)
        if not isinstance(answer, str):
            raise TypeError(f"the hub-data provider answered {type(answer).__name__}, not str")
        # UTF-8 is at most 4 bytes a character: only a long answer needs encoding to tell.
        if (
            len(answer) * 4 > HUB_DATA_MAX_ANSWER
            and (size := len(answer.encode("utf-8", "surrogatepass"))) > HUB_DATA_MAX_ANSWER
        ):
            return query_error(
                "unavailable",
                f"the answer is {size} bytes, more than {HUB_DATA_MAX_ANSWER}: ask for less",
            )
        return answer

    def nodes(self) -> Answer:
        return self._ask(lambda p: p.nodes())

    def node(self, node: str) -> Answer:
        return self._checked(lambda: _name("node", node), lambda p: p.node(node))

    def latest(self, node: str) -> Answer:
        return self._checked(lambda: _name("node", node), lambda p: p.latest(node))

    def logs(self, node: str, min_level: str, limit: int) -> Answer:
        def check() -> None:
            _name("node", node)
            if min_level and min_level not in _LEVELS:
                raise HubDataError(
                    "bad-argument",
                    f'min-level must be "" or one of {", ".join(LogLevel)}, got {min_level!r}',
                )
            if not 1 <= limit <= HUB_DATA_MAX_LIMIT:
                raise HubDataError(
                    "bad-argument", f"limit must be 1-{HUB_DATA_MAX_LIMIT}, got {limit}"
                )

        return self._checked(check, lambda p: p.logs(node, min_level, limit))

    def series(
        self, node: str, plugin: str, metric: str, start: float, end: float, resolution: float
    ) -> Answer:
        def check() -> None:
            _name("node", node)
            _name("plugin", plugin)
            _name("metric", metric)
            _finite("start", start)
            _finite("end", end)
            _finite("resolution", resolution)
            if end < start:
                raise HubDataError("bad-argument", f"end ({end}) is before start ({start})")
            if resolution <= 0:
                raise HubDataError(
                    "bad-argument", f"resolution must be more than 0 s, got {resolution}"
                )

        return self._checked(
            check, lambda p: p.series(node, plugin, metric, start, end, resolution)
        )

    def _checked(self, check: Callable[[], None], question: Callable[[HubData], Any]) -> Answer:
        try:
            check()
        except HubDataError as exc:
            return query_error(exc.case, exc.message)
        return self._ask(question)
