"""What the dashboard answers, by method and path; no WIT types here (app.py adapts them),
so the routing runs, and is tested, in plain CPython too.

    GET|HEAD /, /ui, /ui/           index.html with the bootstrap JSON (no-cache)
    GET|HEAD /ui/overview.json      the view-model (overview.py), no-store; 503 when the
                                    hub's data cannot be read now
    GET|HEAD /ui/assets/<hashed>    a script, stylesheet or image, immutable for a year
    <trap_path>                     raises TrapRequested: the plugin traps (tests only)

Anything else under /ui is 404; a known path asked with another method is 405.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assets import IMMUTABLE, Asset
from overview import Hub, build_overview
from page import render

READS = ("GET", "HEAD")
JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"


class TrapRequested(RuntimeError):
    """The request named the configured trap path: let it escape, so the plugin traps."""


class HubUnavailable(Exception):
    """hub-data cannot answer now (its history is closed or busy)."""


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def _json(status: int, data: Any, **headers: str) -> Reply:
    body = json.dumps(data, separators=(",", ":")).encode()
    extra = [(k.replace("_", "-"), v) for k, v in headers.items()]
    return Reply(status, [("content-type", JSON_TYPE), *extra], body)


def _text(status: int, message: str, **headers: str) -> Reply:
    extra = [(k.replace("_", "-"), v) for k, v in headers.items()]
    return Reply(status, [("content-type", TEXT_TYPE), *extra], (message + "\n").encode())


@dataclass(frozen=True)
class SiteConfig:
    title: str = "Harvester"
    trap_path: str = ""
    chart_plugins: tuple[str, ...] = ("dht22", "bme680")
    # How often an open page refreshes /ui/overview.json (it also notices an outage so).
    overview_every_s: float = 5.0


class Site:
    def __init__(
        self, config: SiteConfig, hub: Hub, assets: dict[str, Asset], template: str
    ) -> None:
        self.config = config
        self.hub = hub
        self.assets = assets
        self.template = template
        self._by_url = {a.url: a for a in assets.values()}

    def handle(self, method: str, path: str) -> Reply:
        if self.config.trap_path and path == self.config.trap_path:
            raise TrapRequested(f"{path} is the configured trap_path")
        route = self._route(path)
        if route is None:
            return _text(404, f"not found: {path}")
        if method not in READS:
            return _text(405, f"{method} is not allowed on {path}", allow=", ".join(READS))
        reply = route()
        if method == "HEAD":
            reply.body = b""
        return reply

    def _route(self, path: str) -> Callable[[], Reply] | None:
        if path in ("/", "/ui", "/ui/"):
            return self.index
        if path == "/ui/overview.json":
            return self.overview_json
        asset = self._by_url.get(path)
        if asset is not None:
            return lambda: Reply(
                200,
                [("content-type", asset.content_type), ("cache-control", IMMUTABLE)],
                asset.body,
            )
        return None

    def overview(self) -> dict[str, Any]:
        return build_overview(self.hub, self.config.chart_plugins)

    def bootstrap(self) -> dict[str, Any]:
        return {
            "title": self.config.title,
            "overview": self.overview(),
            "overview_url": "/ui/overview.json",
            "overview_every_s": self.config.overview_every_s,
        }

    def index(self) -> Reply:
        try:
            bootstrap = self.bootstrap()
        except HubUnavailable as exc:
            return _text(503, f"the hub's data is unavailable: {exc}", retry_after="2")
        body = render(
            self.template, title=self.config.title, bootstrap=bootstrap, assets=self.assets
        )
        return Reply(200, [("content-type", HTML_TYPE), ("cache-control", "no-cache")], body)

    def overview_json(self) -> Reply:
        try:
            data = self.overview()
        except HubUnavailable as exc:
            return _json(503, {"error": f"the hub's data is unavailable: {exc}"}, retry_after="2")
        return _json(200, data, cache_control="no-store")
