"""Who may read and write, on a real hub with `read_access = "token"`: bearer, login
session cookie + CSRF token, cross-site refusal."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie

import aiohttp
import pytest
from aiohttp import web

from harvester.web.api import hub_app
from harvester.web.headers import CSP
from harvester.web.server import serve
from tests.mesh.brokers import free_port
from tests.web.hubs import TOKEN, Fleet, fleet

pytestmark = pytest.mark.asyncio(loop_scope="session")

BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
async def locked(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fleet]:
    async with fleet(
        tmp_path_factory.mktemp("auth"), read_access="token", with_spoke=False
    ) as running:
        assert running.hub.collector is not None
        await running.hub.collector.wait_for(
            lambda h: any(n.name == "revpi" and n.state == "online" for n in h.nodes())
        )
        yield running


async def status_of(session: aiohttp.ClientSession, method: str, url: str, **kwargs: object) -> int:
    async with session.request(method, url, **kwargs) as reply:  # type: ignore[arg-type]
        await reply.read()
        return reply.status


@pytest.mark.parametrize(
    "path", ["/api/nodes", "/api/nodes/revpi/latest", "/metrics", "/", "/ui/app.js"]
)
async def test_token_reads_refuse_anonymous_and_wrong_tokens(locked: Fleet, path: str) -> None:
    async with aiohttp.ClientSession() as session:
        assert await status_of(session, "GET", locked.url + path) == 401
        wrong = {"Authorization": "Bearer " + "x" * 30}
        assert await status_of(session, "GET", locked.url + path, headers=wrong) == 403
        # Past the guard: the API answers; the UI paths have no routes in this app (404).
        expected = 404 if path == "/" or path.startswith("/ui/") else 200
        assert await status_of(session, "GET", locked.url + path, headers=BEARER) == expected


@pytest.mark.parametrize("path", ["/api/health", "/api/openapi.json", "/api/session"])
async def test_some_reads_stay_open(locked: Fleet, path: str) -> None:
    async with aiohttp.ClientSession() as session:
        assert await status_of(session, "GET", locked.url + path) == 200


async def test_writes_without_wrong_and_cross_site(locked: Fleet) -> None:
    url = f"{locked.url}/api/nodes/revpi/plugins/nothing/restart"
    async with aiohttp.ClientSession() as session:
        assert await status_of(session, "POST", url) == 401
        wrong = {"Authorization": "Bearer " + "x" * 30}
        assert await status_of(session, "POST", url, headers=wrong) == 403
        assert await status_of(session, "POST", url, headers={"Authorization": "Basic eDp5"}) == 401
        # Cross-site is refused even with the right token.
        evil = {**BEARER, "Origin": "http://evil.example"}
        assert await status_of(session, "POST", url, headers=evil) == 403
        fetched = {**BEARER, "Sec-Fetch-Site": "cross-site"}
        assert await status_of(session, "POST", url, headers=fetched) == 403
        same = {**BEARER, "Origin": locked.url, "Sec-Fetch-Site": "same-origin"}
        assert await status_of(session, "POST", url, headers=same) == 200


async def test_login_sets_a_strict_http_only_cookie_and_writes_need_its_csrf(
    locked: Fleet,
) -> None:
    jar = aiohttp.CookieJar(unsafe=True)  # the hub is at an IP address
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        async with session.post(f"{locked.url}/api/login", json={"token": "no" * 10}) as reply:
            assert reply.status == 403 and "Set-Cookie" not in reply.headers
        async with session.post(f"{locked.url}/api/login", json={"tok": TOKEN}) as reply:
            assert reply.status == 400
        async with session.post(f"{locked.url}/api/login", json={"token": TOKEN}) as reply:
            assert reply.status == 200
            login = await reply.json()
            raw = reply.headers["Set-Cookie"]
        cookie = SimpleCookie(raw)["harvester_session"]
        assert cookie["httponly"] is True and cookie["samesite"] == "Strict"
        assert cookie["path"] == "/" and len(cookie.value) >= 40
        assert int(cookie["max-age"]) == 12 * 3600
        csrf = login["csrf_token"]
        async with session.get(f"{locked.url}/api/session") as reply:
            seen = await reply.json()
        assert seen == {
            "authenticated": True, "csrf_token": csrf, "read_access": "token", "writes": True,
        }  # fmt: skip
        # The cookie reads; it writes only with the CSRF token.
        assert await status_of(session, "GET", f"{locked.url}/api/nodes") == 200
        url = f"{locked.url}/api/nodes/revpi/plugins/nothing/restart"
        assert await status_of(session, "POST", url) == 403
        assert await status_of(session, "POST", url, headers={"X-CSRF-Token": "x" * 43}) == 403
        assert await status_of(session, "POST", url, headers={"X-CSRF-Token": csrf}) == 200
        # Logging out drops the session on the hub, not only the cookie.
        logout = {"X-CSRF-Token": csrf}
        assert await status_of(session, "POST", f"{locked.url}/api/logout", headers=logout) == 200
    async with aiohttp.ClientSession(cookies={"harvester_session": cookie.value}) as replay:
        assert await status_of(replay, "GET", f"{locked.url}/api/nodes") == 401
        async with replay.get(f"{locked.url}/api/session") as reply:
            assert (await reply.json())["authenticated"] is False


async def test_cross_site_reads_of_the_api_are_refused_but_links_to_the_ui_open(
    locked: Fleet,
) -> None:
    cross = {**BEARER, "Sec-Fetch-Site": "cross-site"}
    async with aiohttp.ClientSession() as session:
        assert await status_of(session, "GET", f"{locked.url}/api/nodes", headers=cross) == 403
        # Past the guard (no UI routes in this app: 404), not refused as cross-site.
        assert await status_of(session, "GET", f"{locked.url}/", headers=cross) == 404
        assert await status_of(session, "HEAD", f"{locked.url}/api/nodes", headers=BEARER) == 200


async def test_ui_routes_added_through_hub_app_get_the_guard_csp_and_gzip(locked: Fleet) -> None:
    """The contract for the UI host: routes added by `hub_app(mesh, ui=...)`."""
    page = "<!doctype html><title>x</title>" + "<p>row</p>" * 200

    async def index(_request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    def ui(app: web.Application) -> None:
        app.router.add_get("/", index)
        app.router.add_route("*", "/ui/{tail:.*}", index)

    async with (
        serve(hub_app(locked.hub, ui=ui), "127.0.0.1", free_port()) as base,
        aiohttp.ClientSession(auto_decompress=False) as session,
    ):
        assert await status_of(session, "GET", f"{base}/") == 401
        assert await status_of(session, "GET", f"{base}/ui/x") == 401
        post = {**BEARER, "Origin": "http://evil.example"}
        assert await status_of(session, "POST", f"{base}/ui/x", headers=post) == 403
        gz = {**BEARER, "Accept-Encoding": "gzip"}
        async with session.get(f"{base}/ui/x", headers=gz) as reply:
            assert reply.status == 200
            assert reply.headers["Content-Security-Policy"] == CSP
            assert reply.headers["X-Frame-Options"] == "DENY"
            assert reply.headers["Content-Encoding"] == "gzip"
            assert gzip.decompress(await reply.read()).decode() == page
