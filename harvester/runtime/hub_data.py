"""What the `hub-data` import serves: a read-only view of the hub's fleet data.

The runtime only defines the shape; the hub's mesh layer provides it (it holds the
history), and the node hands it to the plugins granted `hub_data`. Calls come from a
plugin's instance thread, never the event loop, so a provider answers synchronously and
must be safe to call from any thread. Each answer is JSON text of the shape the hub's
JSON API gives for the same question.
"""

from __future__ import annotations

from typing import Literal, Protocol

HubDataCase = Literal["not-found", "bad-argument", "unavailable"]


class HubDataError(Exception):
    """A query the provider cannot answer: its WIT `query-error` case and a message that
    names the node or argument at fault."""

    def __init__(self, case: HubDataCase, message: str) -> None:
        super().__init__(message)
        self.case: HubDataCase = case
        self.message = message


class HubData(Protocol):
    """The functions of wit/dashboard.wit's `hub-data`. Each raises HubDataError."""

    def nodes(self) -> str: ...

    def node(self, node: str) -> str: ...

    def latest(self, node: str) -> str: ...

    def logs(self, node: str, min_level: str, limit: int) -> str: ...

    def series(
        self, node: str, plugin: str, metric: str, start: float, end: float, resolution: float
    ) -> str: ...
