"""The UI routes: `GET|HEAD /` and every method on `/ui/...`, answered by a plugin.

The host owns the socket and the plugin only sees what is safe to hand it: the request
without credentials (`cookie`, `authorization`, `proxy-authorization`) and with a body
of at most HTTP_MAX_REQUEST_BODY bytes. What the plugin answers was checked by the runtime
(runtime/http.py); here it becomes an HTTP response: framing headers are the host's,
`cache-control` is the plugin's (default `no-cache`), a 200 answer to a GET gets a strong
ETag (a hash of the body) and `If-None-Match` a 304, and compressible bodies are gzip'd
when the client accepts it (the compressed form kept by ETag, in a bounded cache).

A HEAD is asked of the plugin as a GET (a plugin need not know HEAD) and answered without
the body. While the plugin cannot answer (starting, backing off after a fault,
quarantined, too busy, or it faulted on this very request) the answer is 503 with
`Retry-After: 2`; a response the contract forbids is a 502 naming what was wrong. Plugin
calls are serialised per instance (one Store): see PluginRunner.handle_http.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import html
import inspect
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from aiohttp import web
from multidict import CIMultiDict

from harvester.constants import HTTP_MAX_REQUEST_BODY
from harvester.node.runner import HttpUnavailable
from harvester.node.supervisor import Supervisor
from harvester.runtime.errors import PluginContractError, PluginError
from harvester.runtime.http import HttpRequest, HttpResponse

log = logging.getLogger("harvester.web")

# `guard(request)` runs before anything else: it raises an HTTPException (401/403) to
# refuse, returns a response to answer instead, or None to let the request through.
Guard = Callable[[web.Request], Awaitable[web.StreamResponse | None] | web.StreamResponse | None]

# Request headers a plugin never sees: credentials belong to the host.
CREDENTIALS = frozenset({"cookie", "authorization", "proxy-authorization"})
# Response headers the host writes itself: the framing of the connection and the body.
HOST_OWNED = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
     "content-length", "proxy-connection", "etag"}
)  # fmt: skip
RETRY_AFTER_S = 2
GZIP_MIN_BYTES = 1024
GZIP_LEVEL = 6
GZIP_CACHE_ENTRIES = 128
GZIP_CACHE_BYTES = 16 * 1024 * 1024
# Compressing this much or more runs in a thread, not on the event loop.
GZIP_OFF_LOOP_BYTES = 64 * 1024
_COMPRESSIBLE_TYPES = frozenset(
    {"application/json", "application/javascript", "application/xml", "image/svg+xml",
     "application/manifest+json", "text/javascript"}
)  # fmt: skip


def add_ui_routes(
    app: web.Application,
    supervisor: Supervisor,
    plugin_name: str,
    *,
    guard: Guard | None = None,
) -> None:
    """Route `GET|HEAD /` and every method on `/ui/{tail}` to HTTP handler plugin
    `plugin_name` run by `supervisor`. `guard`, if given, is called first (see `Guard`)."""
    ui = _UiRoutes(supervisor, plugin_name, guard)
    app.router.add_get("/", ui.handle)  # HEAD too (aiohttp's allow_head)
    app.router.add_route("*", "/ui/{tail:.*}", ui.handle)


class GzipCache:
    """Compressed bodies by ETag, least recently used out first, bounded in entries and
    bytes. Only 200 answers are kept: their ETag names their content."""

    def __init__(self, *, entries: int = GZIP_CACHE_ENTRIES, size: int = GZIP_CACHE_BYTES) -> None:
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._entries, self._limit, self._size = entries, size, 0

    def get(self, etag: str) -> bytes | None:
        found = self._items.get(etag)
        if found is not None:
            self._items.move_to_end(etag)
        return found

    def put(self, etag: str, data: bytes) -> None:
        if len(data) > self._limit or etag in self._items:
            return
        self._items[etag] = data
        self._size += len(data)
        while len(self._items) > self._entries or self._size > self._limit:
            _, dropped = self._items.popitem(last=False)
            self._size -= len(dropped)

    def __len__(self) -> int:
        return len(self._items)


class _UiRoutes:
    def __init__(self, supervisor: Supervisor, plugin: str, guard: Guard | None) -> None:
        self._supervisor = supervisor
        self._plugin = plugin
        self._guard = guard
        self.gzip_cache = GzipCache()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self._guard is not None:
            verdict = self._guard(request)
            if inspect.isawaitable(verdict):
                verdict = await verdict
            if verdict is not None:
                return verdict
        plugin_request = await _plugin_request(request)
        plugin, what = self._plugin, f"{request.method} {request.path}"
        try:
            answer = await self._supervisor.handle_http(plugin, plugin_request)
        except PluginContractError as exc:
            log.warning("ui plugin %s answered %s badly: %s", plugin, what, exc.detail)
            return _message(request, 502, f"the UI plugin {plugin!r} answered badly: {exc.detail}")
        except HttpUnavailable as exc:  # down or busy: its runner logged why, once
            log.debug("ui plugin %s cannot answer %s: %s", plugin, what, exc.detail)
            return _unavailable(request, plugin, exc)
        except PluginError as exc:  # this request faulted it: it is being restarted
            log.warning("ui plugin %s failed on %s: %s", plugin, what, exc.detail)
            return _unavailable(request, plugin, exc)
        if answer.status < 200:
            # Only a final response can answer a request; 1xx is the host's to send.
            return _message(
                request,
                502,
                f"the UI plugin {plugin!r} answered status {answer.status},"
                " which is not a final response",
            )
        return await self._respond(request, answer)

    async def _respond(self, request: web.Request, answer: HttpResponse) -> web.Response:
        headers: CIMultiDict[str] = CIMultiDict(
            (name, value) for name, value in answer.headers if name not in HOST_OWNED
        )
        headers.setdefault("cache-control", "no-cache")
        status, data = answer.status, answer.body
        if status in (204, 304):
            data = b""
        compressible = (
            len(data) >= GZIP_MIN_BYTES
            and "content-encoding" not in headers
            and _compressible(headers.get("content-type", ""))
        )
        if compressible:
            headers.add("vary", "Accept-Encoding")
        gz = compressible and _accepts_gzip(request.headers.get("accept-encoding", ""))
        etag_base = None
        if status == 200 and request.method in ("GET", "HEAD"):
            etag_base = hashlib.sha256(data).hexdigest()[:32]
            etag = f'"{etag_base}-gz"' if gz else f'"{etag_base}"'
            headers["etag"] = etag
            if _matches(request.headers.get("if-none-match", ""), etag_base):
                kept = {k: v for k, v in headers.items() if k.lower() in _NOT_MODIFIED_KEEP}
                return web.Response(status=304, headers=kept)
        if gz:
            data = await self._gzip(data, etag_base)
            headers["content-encoding"] = "gzip"
        # For a HEAD, aiohttp sends the headers (content-length included) and no body.
        return web.Response(status=status, headers=headers, body=data)

    async def _gzip(self, data: bytes, etag_base: str | None) -> bytes:
        if etag_base is not None and (cached := self.gzip_cache.get(etag_base)) is not None:
            return cached
        if len(data) >= GZIP_OFF_LOOP_BYTES:
            packed = await asyncio.to_thread(gzip.compress, data, GZIP_LEVEL, mtime=0)
        else:
            packed = gzip.compress(data, GZIP_LEVEL, mtime=0)
        if etag_base is not None:
            self.gzip_cache.put(etag_base, packed)
        return packed


# What a 304 repeats of the 200 it stands for (RFC 9110 15.4.5).
_NOT_MODIFIED_KEEP = frozenset({"etag", "cache-control", "vary", "expires", "content-location"})


async def _plugin_request(request: web.Request) -> HttpRequest:
    """What the plugin is handed: no credentials, a bounded body, a HEAD asked as a GET."""
    return HttpRequest(
        method="GET" if request.method == "HEAD" else _clean(request.method),
        path=_clean(request.rel_url.raw_path),
        query=_clean(request.rel_url.raw_query_string),
        headers=tuple(
            (name.lower(), _clean(value))
            for name, value in request.headers.items()
            if name.lower() not in CREDENTIALS
        ),
        body=await _read_body(request),
    )


async def _read_body(request: web.Request) -> bytes:
    """The request body, refused (413) past HTTP_MAX_REQUEST_BODY without reading it all."""
    too_large = web.HTTPRequestEntityTooLarge(
        max_size=HTTP_MAX_REQUEST_BODY, actual_size=request.content_length or 0
    )
    if (request.content_length or 0) > HTTP_MAX_REQUEST_BODY:
        raise too_large
    body = bytearray()
    while chunk := await request.content.read(64 * 1024):
        body += chunk
        if len(body) > HTTP_MAX_REQUEST_BODY:
            raise too_large
    return bytes(body)


def _clean(text: str) -> str:
    """`text` as valid UTF-8: aiohttp hands undecodable bytes on as lone surrogates, which
    a WIT string cannot carry (they would fail the call, and fault the plugin)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _compressible(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return (
        media.startswith("text/")
        or media in _COMPRESSIBLE_TYPES
        or media.endswith(("+json", "+xml"))
    )


def _accepts_gzip(accept_encoding: str) -> bool:
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip", "*"):
            q = params.strip().lower()
            return not (q.startswith("q=") and _q(q[2:]) == 0)
    return False


def _q(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 1.0


def _matches(if_none_match: str, etag_base: str) -> bool:
    """Whether If-None-Match names this body (weak comparison, as RFC 9110 says for it;
    either encoding's tag, since both stand for the same content)."""
    if not if_none_match:
        return False
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        tag = tag.removeprefix("W/")
        if tag in (f'"{etag_base}"', f'"{etag_base}-gz"'):
            return True
    return False


def _wants_json(request: web.Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _message(request: web.Request, status: int, text: str) -> web.Response:
    """A small error page, or JSON `{"error": ...}` for a client that asks for JSON."""
    headers = {"cache-control": "no-store"}
    if _wants_json(request):
        return web.json_response({"error": text}, status=status, headers=headers)
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Harvester: {status}</title></head><body><h1>Harvester</h1>"
        f"<p>{html.escape(text)}</p></body></html>"
    )
    return web.Response(status=status, text=page, content_type="text/html", headers=headers)


def _unavailable(request: web.Request, plugin: str, exc: PluginError) -> web.Response:
    response = _message(
        request,
        503,
        f"The UI plugin {plugin!r} is not available right now ({exc.detail});"
        f" try again in {RETRY_AFTER_S} s.",
    )
    response.headers["retry-after"] = str(RETRY_AFTER_S)
    return response


__all__ = ["CREDENTIALS", "Guard", "GzipCache", "add_ui_routes"]
