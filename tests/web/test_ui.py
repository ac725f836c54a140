"""The UI routes through aiohttp, answered by real HTTP handler plugins under a real
supervisor (with a stand-in for the hub's data): what the plugin sees, what the browser
gets, and what happens when the plugin misbehaves, traps or is down."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer

from harvester.constants import HTTP_MAX_REQUEST_BODY
from harvester.web.ui import Guard, add_ui_routes
from tests.conftest import RunningNode, state_is
from tests.node.http_node import config, echo, hostile, running_again, serving
from tests.runtime.hub_fakes import FakeHubData

pytestmark = pytest.mark.wasm


async def ping(request: web.Request) -> web.Response:
    return web.json_response({"pong": True})


@asynccontextmanager
async def site(
    plugin_dir: Path,
    plugin: dict[str, Any],
    *,
    guard: Guard | None = None,
    backoff_s: float = 0.05,
) -> AsyncIterator[tuple[TestClient[web.Request, web.Application], RunningNode]]:
    """An aiohttp server with the UI routes (to `plugin`) and an API route beside them."""
    async with serving(config(plugin_dir, plugin, backoff_s=backoff_s), FakeHubData()) as n:
        await n.wait_for(state_is("running", plugin["name"]))
        app = web.Application()
        app.router.add_get("/api/ping", ping)
        add_ui_routes(app, n.supervisor, plugin["name"], guard=guard)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield client, n


async def test_the_plugin_never_sees_credentials(http_plugin_dir: Path) -> None:
    async with site(http_plugin_dir, echo()) as (client, _):
        response = await client.get(
            "/ui/page?x=1",
            headers={
                "Cookie": "harvester_session=secret",
                "Authorization": "Bearer t0ken",
                "Proxy-Authorization": "Basic abc",
                "X-Trace": "7",
            },
        )
        assert response.status == 200
        seen = await response.json()
        names = [name for name, _ in seen["headers"]]
        assert "x-trace" in names and "host" in names
        assert not {"cookie", "authorization", "proxy-authorization"} & set(names)
        assert "secret" not in json.dumps(seen) and "t0ken" not in json.dumps(seen)
        assert (seen["method"], seen["path"], seen["query"]) == ("GET", "/ui/page", "x=1")


async def test_the_root_and_any_method_under_ui_reach_the_plugin(http_plugin_dir: Path) -> None:
    async with site(http_plugin_dir, echo()) as (client, _):
        root = await (await client.get("/")).json()
        assert root["path"] == "/"
        posted = await client.post("/ui/form", data=b"a=1&b=2")
        assert (await posted.json())["method"] == "POST"
        assert (await posted.json())["body_length"] == 7
        assert (await client.delete("/ui/thing")).status == 200
        assert (await client.post("/")).status == 405  # only GET and HEAD at the root


async def test_request_bodies_are_limited(http_plugin_dir: Path) -> None:
    async with site(http_plugin_dir, echo()) as (client, _):
        full = b"x" * HTTP_MAX_REQUEST_BODY
        ok = await client.post("/ui/body", data=full)
        assert ok.status == 200 and await ok.read() == full
        too_big = await client.post("/ui/body", data=full + b"x")
        assert too_big.status == 413

        async def chunks() -> AsyncIterator[bytes]:  # no content-length: counted as read
            for _ in range(HTTP_MAX_REQUEST_BODY // 4096 + 1):
                yield b"y" * 4096

        assert (await client.post("/ui/body", data=chunks())).status == 413


async def test_a_200_get_has_a_strong_etag_and_a_match_is_304(http_plugin_dir: Path) -> None:
    async with site(http_plugin_dir, echo()) as (client, _):
        plain = {"Accept-Encoding": "identity"}
        first = await client.get("/ui/cached", headers=plain)
        etag = first.headers["ETag"]
        assert etag.startswith('"') and not etag.startswith("W/")
        assert first.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        again = await client.get("/ui/cached", headers={**plain, "If-None-Match": etag})
        assert again.status == 304 and await again.read() == b""
        assert again.headers["ETag"] == etag
        assert again.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        other = await client.get("/ui/cached", headers={**plain, "If-None-Match": '"nope"'})
        assert other.status == 200
        # The plugin gave no cache-control here: the host's default is to revalidate.
        assert (await client.get("/ui/page")).headers["Cache-Control"] == "no-cache"
        assert "ETag" not in (await client.post("/ui/page")).headers


async def test_compressible_bodies_are_gzipped_when_accepted(http_plugin_dir: Path) -> None:
    async with site(http_plugin_dir, echo()) as (client, _):
        url = f"{client.make_url('/ui/sized')}?bytes=5000"
        async with ClientSession(auto_decompress=False) as raw:
            zipped = await raw.get(url, headers={"Accept-Encoding": "br, gzip;q=0.8"})
            body = await zipped.read()
            assert zipped.headers["Content-Encoding"] == "gzip"
            assert zipped.headers["Vary"] == "Accept-Encoding"
            assert len(body) < 5000 and gzip.decompress(body) == (b"harvest " * 625)[:5000]
            tag = zipped.headers["ETag"]
            assert tag.endswith('-gz"')
            cached = await raw.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": tag})
            assert cached.status == 304
            identity = await raw.get(url, headers={"Accept-Encoding": "gzip;q=0, identity"})
            assert "Content-Encoding" not in identity.headers
            assert len(await identity.read()) == 5000
            # Under 1 KB or not text: sent as it is.
            small = await raw.get(f"{client.make_url('/ui/sized')}?bytes=500")
            assert "Content-Encoding" not in small.headers
            again = await raw.get(url, headers={"Accept-Encoding": "gzip"})
            assert await again.read() == body  # the same bytes, from the cache


async def test_head_is_answered_without_a_body(http_plugin_dir: Path) -> None:
    async with site(http_plugin_dir, echo()) as (client, _):
        plain = {"Accept-Encoding": "identity"}
        get = await client.get("/ui/sized?bytes=3000", headers=plain)
        head = await client.head("/ui/sized?bytes=3000", headers=plain)
        assert head.status == 200 and await head.read() == b""
        assert head.headers["Content-Length"] == "3000"
        assert head.headers["ETag"] == get.headers["ETag"]
        assert (await client.head("/")).status == 200


@pytest.mark.parametrize(
    "path,message",
    [
        ("/ui/crlf", "value holds CR, LF or NUL"),
        ("/ui/set-cookie", "header 'set-cookie' is not allowed"),
        ("/ui/bad-name", "is not an HTTP token"),
        ("/ui/status-0", "status 0 is not in 100-599"),
        ("/ui/many-headers", "100 headers"),
    ],
)
async def test_a_bad_response_is_a_502_and_the_plugin_serves_on(
    http_plugin_dir: Path, path: str, message: str
) -> None:
    async with site(http_plugin_dir, hostile()) as (client, n):
        bad = await client.get(path, headers={"Accept": "application/json"})
        assert bad.status == 502
        assert "Set-Cookie" not in bad.headers and "x-note" not in bad.headers
        assert message in (await bad.json())["error"]
        assert "'evil'" in (await bad.json())["error"]
        good = await client.get("/ui/ok")
        assert good.status == 200 and await good.read() == b"fine"
        assert n.supervisor.runners["evil"].restarts == 0


async def test_a_trap_is_a_503_then_the_plugin_is_back_and_the_api_never_left(
    http_plugin_dir: Path,
) -> None:
    async with site(http_plugin_dir, echo(settings={"trap_path": "/ui/boom"})) as (client, n):
        trapped = await client.get("/ui/boom")
        assert trapped.status == 503 and trapped.headers["Retry-After"] == "2"
        assert "text/html" in trapped.headers["Content-Type"]
        assert (await client.get("/api/ping")).status == 200
        await running_again(n, "ui")
        assert n.supervisor.runners["ui"].restarts == 1
        assert (await client.get("/ui/after")).status == 200


async def test_while_the_plugin_is_down_the_ui_answers_503(http_plugin_dir: Path) -> None:
    plugin = echo(settings={"trap_path": "/ui/boom"})
    async with site(http_plugin_dir, plugin, backoff_s=3600) as (client, n):
        assert (await client.get("/ui/boom")).status == 503
        await n.wait_for(state_is("backoff", "ui"))
        down = await client.get("/ui/x", headers={"Accept": "application/json"})
        assert down.status == 503 and down.headers["Retry-After"] == "2"
        assert "state backoff" in (await down.json())["error"]
        assert (await client.get("/api/ping")).status == 200


async def test_a_handler_that_never_returns_is_a_503(http_plugin_dir: Path) -> None:
    async with site(http_plugin_dir, hostile(limits={"call_timeout_ms": 200})) as (client, n):
        assert (await client.get("/ui/loop")).status == 503
        await running_again(n, "evil")
        assert (await client.get("/ui/ok")).status == 200


async def test_the_guard_is_asked_first(http_plugin_dir: Path) -> None:
    asked: list[str] = []

    async def guard(request: web.Request) -> web.StreamResponse | None:
        asked.append(request.path)
        if request.headers.get("X-Let-Me-In") != "yes":
            raise web.HTTPUnauthorized(text="token needed")
        return None

    async with site(http_plugin_dir, echo(), guard=guard) as (client, _):
        refused = await client.post("/ui/body", data=b"x")
        assert refused.status == 401 and await refused.text() == "token needed"
        allowed = await client.get("/ui/x", headers={"X-Let-Me-In": "yes"})
        assert allowed.status == 200
        assert asked == ["/ui/body", "/ui/x"]
