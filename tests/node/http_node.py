"""Helpers for running HTTP handler test plugins (tests/plugins/http) under a real
supervisor, with the node's hub data as a test gives it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from harvester.config import NodeConfig
from harvester.runtime.http import HttpRequest
from tests.conftest import RunningNode, make_node, running, state_is

HUB = {"hub_data": True}


def config(
    plugin_dir: Path, *plugins: dict[str, Any], backoff_s: float = 0.05, max_faults: int = 5
) -> NodeConfig:
    restart = {"backoff_initial_s": backoff_s, "backoff_max_s": backoff_s, "max_faults": max_faults}
    return make_node(plugin_dir, list(plugins), role="hub", restart=restart)


def echo(**extra: Any) -> dict[str, Any]:
    return {"name": "ui", "component": "http-echo", "grants": HUB, **extra}


def hostile(**extra: Any) -> dict[str, Any]:
    return {"name": "evil", "component": "http-hostile", "grants": HUB, **extra}


async def running_again(n: RunningNode, plugin: str) -> None:
    """Until `plugin` entered "running" a second time (after a restart)."""
    running = state_is("running", plugin)
    await n.wait_for(lambda _: sum(map(running, n.events)) >= 2)


def get(path: str, query: str = "") -> HttpRequest:
    return HttpRequest("GET", path, query, (("accept", "*/*"),), b"")


@asynccontextmanager
async def serving(cfg: NodeConfig, hub_data: Any = None) -> AsyncIterator[RunningNode]:
    """The supervisor of `cfg` running, with `hub_data` as the node's provider."""
    async with running(cfg, hub_data=hub_data) as node:
        yield node
