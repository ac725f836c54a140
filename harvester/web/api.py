"""The hub's JSON API over its history and live state (aiohttp, port 3000 by default).

The questions are answered by the mesh's HubQueries (in a thread: SQLite is not the event
loop's business), serialised against the same types the OpenAPI document is made from.
Who may call what is auth.py's; headers and compression headers.py's; the live stream
stream.py's. Every input is checked; a bad request gets a 4xx with a JSON message naming
the parameter, never a traceback. ROUTES is the table both the router and the OpenAPI
document (GET /api/openapi.json) are made from.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import png
from aiohttp import web
from pydantic import ValidationError
from typing_extensions import TypedDict  # pydantic reads these on Python < 3.12

import harvester
from harvester.config.secrets import SecretsError, load_token
from harvester.constants import COMMAND_NAME_PATTERN
from harvester.hal.sim.ssd1306_panel import to_png
from harvester.mesh.command_executor import RESTART, SIM_DISPLAY
from harvester.mesh.history import MAX_POINTS
from harvester.mesh.hub_queries import (
    MAX_LIMIT,
    MAX_SEQ,
    EventList,
    HealthList,
    HubQueries,
    LatestList,
    LogPage,
    NodeDetail,
    NodeList,
    NotFound,
    PluginList,
    QueryError,
    Series,
    to_json,
)
from harvester.mesh.payloads import NAME, CommandResult, encode
from harvester.mesh.service import MeshNode
from harvester.web import deploys, headers, stream
from harvester.web.auth import AUTH, COOKIE, Auth, auth_middleware
from harvester.web.metrics import REGISTRY, handle_metrics, node_registry
from harvester.web.openapi import document
from harvester.web.params import (
    bad_request,
    error,
    json_object,
    maybe_whole,
    name,
    number,
    path_name,
    whole,
)
from harvester.web.recent import Recent
from harvester.web.routes import Answer, Param, Route

log = logging.getLogger("harvester.web")

MESH: web.AppKey[MeshNode] = web.AppKey("mesh", MeshNode)
OPENAPI: web.AppKey[bytes] = web.AppKey("openapi document", bytes)
# The nodes' displays as they answered sim.display lately (see web/recent.py).
DISPLAYS: web.AppKey[Recent[CommandResult]] = web.AppKey("recent displays", Recent)
DISPLAY_FRESH_S: Final = 1.0
MAX_BODY: Final = 16 * 1024
DISPLAY_TIMEOUT_S: Final = 5.0
MAX_SCALE: Final = 8


def api_version() -> str:
    return harvester.__version__


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Errors as JSON; an unexpected one is logged and answered 500 without details."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type != "application/json" and exc.status >= 400:
            exc.text = json.dumps({"error": exc.reason})
            exc.content_type = "application/json"
        raise
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return web.json_response({"error": "internal error (logged on the hub)"}, status=500)


def queries(request: web.Request) -> HubQueries:
    found = request.app[MESH].queries
    assert found is not None, "the hub's queries run on the hub"
    return found


async def answer(
    request: web.Request, kind: type, ask: Callable[[HubQueries], Any]
) -> web.Response:
    """`ask` answered in a thread and serialised as `kind`; NotFound is a 404, any other
    QueryError a 400."""
    hub = queries(request)
    try:
        body = await asyncio.to_thread(lambda: to_json(kind, ask(hub)))
    except NotFound as exc:
        raise error(web.HTTPNotFound, exc.message) from None
    except QueryError as exc:
        raise bad_request(exc.message) from None
    return web.Response(body=body, content_type="application/json")


# -- reads -------------------------------------------------------------------------------


class HealthAnswer(TypedDict):
    ok: bool
    hub: str


async def health(request: web.Request) -> web.Response:
    return web.json_response(HealthAnswer(ok=True, hub=request.app[MESH].config.name))


async def nodes(request: web.Request) -> web.Response:
    return await answer(request, NodeList, lambda q: q.nodes())


async def node(request: web.Request) -> web.Response:
    name_ = path_name(request, "node")
    return await answer(request, NodeDetail, lambda q: q.node(name_))


async def node_plugins(request: web.Request) -> web.Response:
    name_ = path_name(request, "node")
    return await answer(request, PluginList, lambda q: q.plugins(name_))


async def latest(request: web.Request) -> web.Response:
    name_ = path_name(request, "node")
    return await answer(request, LatestList, lambda q: q.latest(name_))


async def node_health(request: web.Request) -> web.Response:
    name_ = path_name(request, "node")
    limit = whole(request, "limit", 100, 1, MAX_LIMIT)
    since = number(request, "since", None)
    return await answer(request, HealthList, lambda q: q.health(name_, since=since, limit=limit))


async def logs(request: web.Request) -> web.Response:
    name_ = path_name(request, "node")
    level = name(request, "level", required=False, pattern=r"[a-z]{1,16}")
    before = maybe_whole(request, "before", 1, MAX_SEQ)
    limit = whole(request, "limit", 100, 1, MAX_LIMIT)
    return await answer(
        request, LogPage, lambda q: q.logs(name_, min_level=level, before=before, limit=limit)
    )


async def events(request: web.Request) -> web.Response:
    name_ = path_name(request, "node")
    plugin = name(request, "plugin", required=False)
    before = maybe_whole(request, "before", 1, MAX_SEQ)
    limit = whole(request, "limit", 100, 1, MAX_LIMIT)
    return await answer(
        request, EventList, lambda q: q.events(name_, plugin=plugin, before=before, limit=limit)
    )


async def series(request: web.Request) -> web.Response:
    node_ = name(request, "node", required=True)
    plugin = name(request, "plugin", required=True)
    metric = name(request, "metric", required=True, pattern=r"[a-z][a-z0-9_]{0,47}")
    assert node_ and plugin and metric
    end = number(request, "end", time.time())
    assert end is not None
    start = number(request, "start", end - 3600)
    resolution = number(request, "resolution", 60.0)
    assert start is not None and resolution is not None
    return await answer(
        request, Series, lambda q: q.series(node_, plugin, metric, start, end, resolution)
    )


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI], content_type="application/json")


# -- the session -------------------------------------------------------------------------


class SessionAnswer(TypedDict):
    authenticated: bool
    csrf_token: str | None
    read_access: str
    writes: bool


class LoginAnswer(TypedDict):
    csrf_token: str
    expires_at: float


class LogoutAnswer(TypedDict):
    ok: bool


async def session(request: web.Request) -> web.Response:
    auth = request.app[AUTH]
    found = auth.session(request)
    bearer = request.headers.get("Authorization", "")
    scheme, _, given = bearer.partition(" ")
    by_bearer = scheme.lower() == "bearer" and auth.token_matches(given.strip())
    return web.json_response(
        SessionAnswer(
            authenticated=by_bearer or found is not None,
            csrf_token=found.csrf if found else None,
            read_access=auth.read_access,
            writes=auth.token is not None,
        )
    )


async def login(request: web.Request) -> web.Response:
    auth = request.app[AUTH]
    address = request.remote or "?"
    wait = auth.throttled(address)
    if wait is not None:
        raise error(
            web.HTTPTooManyRequests,
            f"too many failed logins from {address}; try again in {wait:.0f} s",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    body = await json_object(request, {"token"})
    token = body.get("token")
    if not isinstance(token, str) or not 1 <= len(token) <= 1024:
        raise bad_request("token: a string of 1 to 1024 characters")
    if auth.token is None:
        raise error(web.HTTPForbidden, "writes are off: the hub has no web token_file")
    if not auth.token_matches(token):
        auth.failed(address)
        raise error(web.HTTPForbidden, "wrong token")
    sid, made = auth.login()
    response = web.json_response(LoginAnswer(csrf_token=made.csrf, expires_at=made.expires_at))
    response.set_cookie(
        COOKIE, sid, path="/", httponly=True, samesite="Strict",
        max_age=int(auth.session_s), secure=request.secure or None,
    )  # fmt: skip
    return response


async def logout(request: web.Request) -> web.Response:
    request.app[AUTH].logout(request)
    response = web.json_response(LogoutAnswer(ok=True))
    response.del_cookie(COOKIE, path="/", samesite="Strict")
    return response


# -- commands ----------------------------------------------------------------------------


def result_reply(result: CommandResult) -> web.Response:
    status = 200
    if result.error is not None and result.error.code == "offline":
        status = 503
    elif result.error is not None and result.error.code == "timeout":
        status = 504
    return web.Response(body=encode(result), status=status, content_type="application/json")


async def send(
    request: web.Request,
    node_: str,
    what: str,
    args: dict[str, Any],
    *,
    plugin: str | None = None,
    timeout_s: float = 5.0,
) -> CommandResult:
    client = request.app[MESH].commands
    assert client is not None
    try:
        return await client.send(node_, what, args, plugin=plugin, timeout_s=timeout_s)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise bad_request(f"{where}: {first['msg']}") from None


async def command(request: web.Request) -> web.Response:
    node_ = path_name(request, "node")
    body = await json_object(request, {"command", "args", "plugin", "timeout_s"})
    what = body.get("command")
    if not isinstance(what, str) or not _matches(COMMAND_NAME_PATTERN, what):
        raise bad_request(f"command: {str(what)[:64]!r} is not a command name (like buzzer.beep)")
    args = body.get("args", {})
    if not isinstance(args, dict):
        raise bad_request("args: must be a JSON object")
    plugin = body.get("plugin")
    if plugin is not None and (not isinstance(plugin, str) or not _matches(NAME, plugin)):
        raise bad_request(f"plugin: {str(plugin)[:64]!r} is not a plugin name")
    timeout = body.get("timeout_s", 5.0)
    if (
        not isinstance(timeout, int | float)
        or isinstance(timeout, bool)
        or not 0.1 <= timeout <= 60
    ):
        raise bad_request("timeout_s: a number of seconds from 0.1 to 60")
    result = await send(request, node_, what, args, plugin=plugin, timeout_s=float(timeout))
    return result_reply(result)


async def restart_plugin(request: web.Request) -> web.Response:
    node_ = path_name(request, "node")
    plugin = path_name(request, "plugin")
    return result_reply(await send(request, node_, RESTART, {"plugin": plugin}))


def _matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


# -- the simulated display ---------------------------------------------------------------


def rescale(image: bytes, scale: int) -> bytes:
    """The node's 1-bit PNG, each pixel `scale` x `scale`. Raises png.Error if it is not
    a PNG."""
    if scale == 1:
        return image
    _w, _h, rows, _info = png.Reader(bytes=image).read()
    return to_png([[bool(p) for p in row] for row in rows], scale)


async def display_png(request: web.Request) -> web.Response:
    node_ = path_name(request, "node")
    scale = whole(request, "scale", 1, 1, MAX_SCALE)
    hub = queries(request)
    try:
        await asyncio.to_thread(hub.known, node_)
    except NotFound as exc:
        raise error(web.HTTPNotFound, exc.message) from None
    result = await request.app[DISPLAYS].get(
        node_, lambda: send(request, node_, SIM_DISPLAY, {}, timeout_s=DISPLAY_TIMEOUT_S)
    )
    if result.error is not None:
        code, message = result.error.code, result.error.message
        if code == "offline":
            raise error(web.HTTPServiceUnavailable, f"node: {message}")
        if code == "timeout":
            raise error(web.HTTPGatewayTimeout, f"node: {message}")
        if code in ("unavailable", "unknown-command"):
            raise error(web.HTTPNotFound, f"node: {node_} has no simulated display ({message})")
        raise error(web.HTTPBadGateway, f"node: {node_} answered {code}: {message}")
    encoded = result.result.get("png")
    try:
        if not isinstance(encoded, str):
            raise ValueError("no png in the answer")
        image = await asyncio.to_thread(rescale, base64.b64decode(encoded, validate=True), scale)
    except (ValueError, binascii.Error, png.Error) as exc:
        raise error(web.HTTPBadGateway, f"node: {node_} sent no PNG: {exc}") from None
    return web.Response(body=image, content_type="image/png", headers={"Cache-Control": "no-store"})


# -- the table ---------------------------------------------------------------------------

_NODE = Param("node", "path", {"type": "string", "pattern": NAME}, "a node's name")
_PLUGIN = Param("plugin", "path", {"type": "string", "pattern": NAME}, "a plugin's name")
_LIMIT = Param(
    "limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 100},
    "rows at most",
)  # fmt: skip
_BEFORE = Param(
    "before", "query", {"type": "integer", "minimum": 1, "maximum": MAX_SEQ},
    "page on: rows with a smaller seq (the previous page's next_before)",
)  # fmt: skip
_BAD = Answer("a parameter is malformed or out of range (the message names it)")
_NO_NODE = Answer("no node of that name has reported to this hub")
_RESULT = Answer("the node's answer (ok true or false)", CommandResult)
_COMMAND_ANSWERS = {
    200: _RESULT,
    400: _BAD,
    503: Answer("the node is offline: not sent", CommandResult),
    504: Answer("no answer in time", CommandResult),
}
_NUMBER = {"type": "number"}
COMMAND_BODY: Final = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "pattern": COMMAND_NAME_PATTERN},
        "args": {
            "type": "object",
            "additionalProperties": {"type": ["boolean", "integer", "number", "string"]},
        },
        "plugin": {"type": ["string", "null"], "pattern": NAME},
        "timeout_s": {"type": "number", "minimum": 0.1, "maximum": 60, "default": 5},
    },
    "required": ["command"],
    "additionalProperties": False,
}
LOGIN_BODY: Final = {
    "type": "object",
    "properties": {"token": {"type": "string", "minLength": 1, "maxLength": 1024}},
    "required": ["token"],
    "additionalProperties": False,
}
_SSE = Answer(
    "Server-Sent Events: hello, status, health, readings, log, event, plugins, reset (docs/api.md)",
    {"type": "string"},
    "text/event-stream",
)

ROUTES: Final[tuple[Route, ...]] = (
    Route("GET", "/api/health", health, "the hub is up", {200: Answer("up", HealthAnswer)},
          access="open", tag="meta"),
    Route("GET", "/api/openapi.json", openapi_json, "this document",
          {200: Answer("OpenAPI 3.1", {"type": "object"})}, access="open", tag="meta"),
    Route("GET", "/api/session", session, "who the caller is to this hub",
          {200: Answer("the caller's session", SessionAnswer)}, access="open", tag="auth"),
    Route("POST", "/api/login", login, "log in with the token: sets the session cookie",
          {200: Answer("logged in (Set-Cookie: harvester_session, HttpOnly, SameSite=Strict)",
                       LoginAnswer, headers={"Set-Cookie": "the session cookie"}),
           400: _BAD,
           413: Answer("the body is larger than 16 KiB"),
           429: Answer("too many failed logins from this address",
                       headers={"Retry-After": "seconds"})},
          body=LOGIN_BODY, access="login", tag="auth"),
    Route("POST", "/api/logout", logout, "drop the session and its cookie",
          {200: Answer("logged out", LogoutAnswer)}, access="write", tag="auth"),
    Route("GET", "/api/nodes", nodes, "every node with its newest health",
          {200: Answer("the nodes", NodeList)}),
    Route("GET", "/api/nodes/{node}", node, "a node's status, newest health and plugins",
          {200: Answer("the node", NodeDetail), 400: _BAD, 404: _NO_NODE}, (_NODE,)),
    Route("GET", "/api/nodes/{node}/plugins", node_plugins, "a node's plugins",
          {200: Answer("the plugins", PluginList), 400: _BAD, 404: _NO_NODE}, (_NODE,)),
    Route("GET", "/api/nodes/{node}/latest", latest, "the newest value of each metric",
          {200: Answer("the values", LatestList), 400: _BAD, 404: _NO_NODE}, (_NODE,)),
    Route("GET", "/api/nodes/{node}/health", node_health, "health reports, newest first",
          {200: Answer("the reports", HealthList), 400: _BAD, 404: _NO_NODE},
          (_NODE, Param("since", "query", _NUMBER, "Unix seconds: reports from then on"),
           _LIMIT)),
    Route("GET", "/api/nodes/{node}/logs", logs, "log lines at a level or above, newest first",
          {200: Answer("a page of lines", LogPage), 400: _BAD, 404: _NO_NODE},
          (_NODE, Param("level", "query",
                        {"type": "string", "enum": ["trace", "debug", "info", "warn", "error"]},
                        "the lowest level shown"), _BEFORE, _LIMIT)),
    Route("GET", "/api/nodes/{node}/events", events, "plugin state changes, newest first",
          {200: Answer("the events", EventList), 400: _BAD, 404: _NO_NODE},
          (_NODE, Param("plugin", "query", {"type": "string", "pattern": NAME},
                        "only this plugin's"), _BEFORE, _LIMIT)),
    Route("GET", "/api/nodes/{node}/display.png", display_png,
          "the node's simulated SSD1306 panel as a PNG (asks the node: sim.display)",
          {200: Answer("the panel, 128x64 times scale", {"type": "string"}, "image/png",
                       headers={"Cache-Control": "no-store"}),
           400: _BAD,
           404: Answer("no such node, or it has no simulated display"),
           502: Answer("the node's answer was not a PNG"),
           503: Answer("the node is offline"),
           504: Answer("the node did not answer in time")},
          (_NODE, Param("scale", "query",
                        {"type": "integer", "minimum": 1, "maximum": MAX_SCALE, "default": 1},
                        "pixels per panel pixel"))),
    Route("GET", "/api/series", series, "one metric in buckets over a time range",
          {200: Answer("the buckets holding data", Series), 400: _BAD},
          (Param("node", "query", {"type": "string", "pattern": NAME}, "the node", True),
           Param("plugin", "query", {"type": "string", "pattern": NAME}, "the plugin", True),
           Param("metric", "query", {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,47}$"},
                 "the metric", True),
           Param("start", "query", _NUMBER, "Unix seconds (default: end - 3600)"),
           Param("end", "query", _NUMBER, "Unix seconds (default: now)"),
           Param("resolution", "query", {"type": "number", "minimum": 1, "default": 60},
                 f"bucket width in seconds; at most {MAX_POINTS} buckets"))),
    Route("GET", "/api/stream", stream.stream, "live events (Server-Sent Events)",
          {200: _SSE, 400: _BAD},
          (Param("after", "query", {"type": "string", "maxLength": 64},
                 "resume after this event id (as the Last-Event-ID header)"),
           Param("Last-Event-ID", "header", {"type": "string"},
                 "resume after this event id (sent by EventSource on reconnect)"))),
    Route("POST", "/api/nodes/{node}/commands", command, "send a command to a node",
          _COMMAND_ANSWERS, (_NODE,), body=COMMAND_BODY, access="write", tag="commands"),
    Route("POST", "/api/nodes/{node}/plugins/{plugin}/restart", restart_plugin,
          "restart a plugin (the plugin.restart command)", _COMMAND_ANSWERS,
          (_NODE, _PLUGIN), access="write", tag="commands"),
    *deploys.ROUTES,
)  # fmt: skip


def load_auth(mesh: MeshNode) -> Auth:
    settings = mesh.config.hub_settings.web
    token: str | None = None
    if settings.token_file is not None:
        try:
            token = load_token(settings.token_file)
        except SecretsError as exc:
            log.error("web: writes are off: %s", exc)
    return Auth(token, read_access=settings.read_access, session_hours=settings.session_hours)


def hub_app(
    mesh: MeshNode, *, ui: Callable[[web.Application], None] | None = None
) -> web.Application:
    """The hub's web application: /api/..., /metrics, and whatever `ui(app)` adds (the UI's
    `/` and `/ui/...` routes): auth_middleware guards those paths too (read access,
    cross-site), and the security headers and compression apply to them."""
    app = web.Application(
        middlewares=[headers.compression, json_errors, auth_middleware], client_max_size=MAX_BODY
    )
    app[MESH] = mesh
    app[AUTH] = load_auth(mesh)
    app[DISPLAYS] = Recent(fresh_s=DISPLAY_FRESH_S)
    if mesh.deploy_desk is not None:
        app[deploys.DESK] = mesh.deploy_desk
    headers.install(app)
    assert mesh.node is not None and mesh.live is not None
    stream.install(app, mesh)
    for route in ROUTES:
        if route.handler is stream.stream:
            continue  # stream.install added it
        if route.method == "GET":
            app.router.add_get(route.path, route.handler)  # and HEAD
        else:
            app.router.add_route(route.method, route.path, route.handler)
    app[OPENAPI] = json.dumps(document(ROUTES, version=api_version())).encode()
    app[REGISTRY] = node_registry(mesh.node, mesh.stats_providers())
    app.router.add_get("/metrics", handle_metrics)
    if ui is not None:
        ui(app)
    return app
