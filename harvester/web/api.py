"""The hub's JSON API over its history and live state (aiohttp, port 3000 by default).

Reads are open (the hub's web server listens on loopback unless configured for the LAN);
writes (commands) need `Authorization: Bearer <token>`, the token from the hub's secrets
file, compared in constant time. Every input is checked; a bad request gets a 4xx with a
JSON message naming the parameter, never a traceback. History queries run in a thread:
SQLite is not the event loop's business.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from harvester.config.secrets import SecretsError, load_token
from harvester.constants import COMMAND_NAME_PATTERN, LogLevel
from harvester.mesh.history import History, NodeRow
from harvester.mesh.payloads import NAME, encode
from harvester.mesh.service import MeshNode
from harvester.web.metrics import REGISTRY, handle_metrics, node_registry

log = logging.getLogger("harvester.web")

MESH: web.AppKey[MeshNode] = web.AppKey("mesh", MeshNode)
TOKEN: web.AppKey[str | None] = web.AppKey("token", str)
MAX_BODY = 16 * 1024
MAX_LIMIT = 1000
_NAME = re.compile(NAME)
_COMMAND = re.compile(COMMAND_NAME_PATTERN)


def bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


def reply(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Errors as JSON; an unexpected one is logged and answered 500 without details."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type != "application/json":
            exc.text = json.dumps({"error": exc.reason})
            exc.content_type = "application/json"
        raise
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return reply({"error": "internal error (logged on the hub)"}, status=500)


# -- parameters --------------------------------------------------------------------------


def node_name(request: web.Request) -> str:
    name = request.match_info["node"]
    if not _NAME.match(name):
        raise bad_request(f"node: {name!r} is not a node name")
    return name


def number(request: web.Request, key: str, default: float | None) -> float | None:
    raw = request.query.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise bad_request(f"{key}: {raw!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise bad_request(f"{key}: must be finite")
    return value


def whole(request: web.Request, key: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(key)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise bad_request(f"{key}: {raw!r} is not a whole number from {low} to {high}")
    return int(raw)


def maybe_whole(request: web.Request, key: str, low: int, high: int) -> int | None:
    return whole(request, key, 0, low, high) if key in request.query else None


def name_param(request: web.Request, key: str, *, required: bool) -> str | None:
    raw = request.query.get(key)
    if raw is None:
        if required:
            raise bad_request(f"{key}: required")
        return None
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,47}", raw):
        raise bad_request(f"{key}: {raw!r} is not a valid name")
    return raw


async def in_thread(request: web.Request, query: Callable[[History], Any]) -> Any:
    history = request.app[MESH].history
    assert history is not None
    return await asyncio.to_thread(query, history)


def known_node(request: web.Request) -> NodeRow:
    """The status of the node the path names; 404 if it never reported."""
    name = node_name(request)
    collector = request.app[MESH].collector
    assert collector is not None
    status = collector.node_status(name)
    if status is None:
        raise web.HTTPNotFound(
            text=json.dumps({"error": f"no node {name!r} has reported to this hub"}),
            content_type="application/json",
        )
    return status


# -- reads -------------------------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    mesh = request.app[MESH]
    return reply({"ok": True, "hub": mesh.config.name})


async def nodes(request: web.Request) -> web.Response:
    collector = request.app[MESH].collector
    assert collector is not None
    rows = await asyncio.to_thread(collector.nodes)
    return reply({"nodes": [asdict(row) for row in rows]})


async def node(request: web.Request) -> web.Response:
    status = known_node(request)
    plugins = await in_thread(request, lambda h: h.plugins(status.name))
    return reply(
        {
            "node": asdict(status),
            "plugins": json.loads(encode(plugins))["plugins"] if plugins else [],
        }
    )


async def latest(request: web.Request) -> web.Response:
    name = known_node(request).name
    rows = await in_thread(request, lambda h: h.latest(name))
    return reply({"node": name, "latest": [asdict(r) for r in rows]})


async def node_health(request: web.Request) -> web.Response:
    name = known_node(request).name
    limit = whole(request, "limit", 100, 1, MAX_LIMIT)
    since = number(request, "since", None)
    rows = await in_thread(request, lambda h: h.health(name, since=since, limit=limit))
    return reply({"node": name, "health": [asdict(r) for r in rows]})


async def logs(request: web.Request) -> web.Response:
    name = known_node(request).name
    level = request.query.get("level")
    if level is not None and level not in LogLevel.__members__.values():
        raise bad_request(f"level: {level!r} is not one of {', '.join(LogLevel)}")
    before = maybe_whole(request, "before", 1, 2**63 - 1)
    limit = whole(request, "limit", 100, 1, MAX_LIMIT)
    rows = await in_thread(
        request, lambda h: h.logs(name, min_level=level, before=before, limit=limit)
    )
    page = [asdict(r) for r in rows]
    after = page[-1]["seq"] if page and len(page) == limit else None
    return reply({"node": name, "logs": page, "next_before": after})


async def events(request: web.Request) -> web.Response:
    name = known_node(request).name
    plugin = name_param(request, "plugin", required=False)
    before = maybe_whole(request, "before", 1, 2**63 - 1)
    limit = whole(request, "limit", 100, 1, MAX_LIMIT)
    rows = await in_thread(
        request, lambda h: h.events(name, plugin=plugin, before=before, limit=limit)
    )
    return reply({"node": name, "events": [asdict(r) for r in rows]})


async def series(request: web.Request) -> web.Response:
    node_ = name_param(request, "node", required=True)
    plugin = name_param(request, "plugin", required=True)
    metric = name_param(request, "metric", required=True)
    assert node_ and plugin and metric
    end = number(request, "end", time.time())
    assert end is not None
    start = number(request, "start", end - 3600)
    resolution = number(request, "resolution", 60.0)
    assert start is not None and resolution is not None
    if start >= end:
        raise bad_request("start: must be before end")
    try:
        points = await in_thread(
            request, lambda h: h.series(node_, plugin, metric, start, end, resolution)
        )
    except ValueError as exc:
        raise bad_request(str(exc)) from exc
    return reply(
        {
            "node": node_, "plugin": plugin, "metric": metric,
            "start": start, "end": end, "resolution": resolution,
            "points": [asdict(p) for p in points],
        }
    )  # fmt: skip


# -- writes ------------------------------------------------------------------------------


def authorised(request: web.Request) -> None:
    token = request.app[TOKEN]
    if token is None:
        raise web.HTTPForbidden(
            text=json.dumps({"error": "writes are off: the hub has no web token_file"}),
            content_type="application/json",
        )
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not value:
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": "needs Authorization: Bearer <token>"}),
            content_type="application/json",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(value.encode(), token.encode()):
        raise web.HTTPForbidden(
            text=json.dumps({"error": "wrong token"}), content_type="application/json"
        )


async def command(request: web.Request) -> web.Response:
    authorised(request)
    name = node_name(request)
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(MAX_BODY, request.content_length)
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise bad_request("body: not JSON") from None
    if not isinstance(body, dict):
        raise bad_request("body: must be a JSON object")
    unknown = sorted(set(body) - {"command", "args", "plugin", "timeout_s"})
    if unknown:
        raise bad_request(f"body: unknown keys {', '.join(unknown)}")
    what = body.get("command")
    if not isinstance(what, str) or not _COMMAND.match(what):
        raise bad_request(f"command: {what!r} is not a command name (like buzzer.beep)")
    args = body.get("args", {})
    if not isinstance(args, dict):
        raise bad_request("args: must be a JSON object")
    plugin = body.get("plugin")
    if plugin is not None and (not isinstance(plugin, str) or not _NAME.match(plugin)):
        raise bad_request(f"plugin: {plugin!r} is not a plugin name")
    timeout = body.get("timeout_s", 5.0)
    if (
        not isinstance(timeout, int | float)
        or isinstance(timeout, bool)
        or not 0.1 <= timeout <= 60
    ):
        raise bad_request("timeout_s: a number of seconds from 0.1 to 60")
    client = request.app[MESH].commands
    assert client is not None
    try:
        result = await client.send(name, what, args, plugin=plugin, timeout_s=float(timeout))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise bad_request(f"{where}: {first['msg']}") from None
    status = 200
    if result.error is not None and result.error.code == "offline":
        status = 503
    elif result.error is not None and result.error.code == "timeout":
        status = 504
    return web.Response(body=encode(result), status=status, content_type="application/json")


def hub_app(mesh: MeshNode) -> web.Application:
    """The hub's web application: /api/... and /metrics."""
    app = web.Application(middlewares=[json_errors], client_max_size=MAX_BODY)
    app[MESH] = mesh
    token_file = mesh.config.hub_settings.web.token_file
    try:
        app[TOKEN] = load_token(token_file) if token_file is not None else None
    except SecretsError as exc:
        log.error("web: writes are off: %s", exc)
        app[TOKEN] = None
    assert mesh.node is not None
    app.router.add_get("/api/health", health)
    app.router.add_get("/api/nodes", nodes)
    app.router.add_get("/api/nodes/{node}", node)
    app.router.add_get("/api/nodes/{node}/latest", latest)
    app.router.add_get("/api/nodes/{node}/health", node_health)
    app.router.add_get("/api/nodes/{node}/logs", logs)
    app.router.add_get("/api/nodes/{node}/events", events)
    app.router.add_get("/api/series", series)
    app.router.add_post("/api/nodes/{node}/commands", command)
    app[REGISTRY] = node_registry(mesh.node, mesh.stats_providers())
    app.router.add_get("/metrics", handle_metrics)
    return app
