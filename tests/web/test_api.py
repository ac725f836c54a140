"""The hub's JSON API on a real hub (in this process: embedded broker child, collector,
history; only the native monitor, no WASM) and a real spoke beside it (tests/web/conftest.py)."""

from __future__ import annotations

import asyncio
import gzip
import json
import time

import aiohttp
import pytest

from harvester.web.headers import CSP, SECURITY
from tests.web.hubs import TOKEN, Fleet

# The hub fixture runs in the session's loop (the project's fixture loop scope): so must
# the tests that talk to it.
pytestmark = pytest.mark.asyncio(loop_scope="session")


async def get(url: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    async with aiohttp.ClientSession() as session, session.get(url) as reply:
        return reply.status, await reply.json()


async def post(url: str, body: object, token: str | None = TOKEN) -> tuple[int, dict]:  # type: ignore[type-arg]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers) as reply,
    ):
        return reply.status, await reply.json()


async def test_reads_show_both_nodes_and_their_readings(hub_url: str) -> None:
    status, body = await get(f"{hub_url}/api/nodes")
    assert status == 200
    nodes = {n["name"]: n for n in body["nodes"]}
    assert nodes["pizero"]["state"] == "online" and nodes["pizero"]["role"] == "spoke"
    status, body = await get(f"{hub_url}/api/nodes/pizero/latest")
    metrics = {(r["plugin"], r["metric"]) for r in body["latest"]}
    assert ("pizero-monitor", "cpu_usage") in metrics
    now = time.time()
    status, body = await get(
        f"{hub_url}/api/series?node=pizero&plugin=pizero-monitor&metric=uptime"
        f"&start={now - 60}&end={now + 1}&resolution=1"
    )
    assert status == 200 and body["points"]


@pytest.mark.parametrize(
    "path,message",
    [
        ("/api/series?node=pizero&plugin=x&metric=y&resolution=0.1", "resolution"),
        ("/api/series?node=pizero&plugin=x&metric=y&start=abc", "start: 'abc' is not a number"),
        ("/api/series?plugin=x&metric=y", "node: required"),
        ("/api/series?node=pizero&plugin=x&metric=y&start=0&end=1e9&resolution=1", "limit"),
        ("/api/nodes/pizero/logs?level=loud", "level: 'loud'"),
        ("/api/nodes/pizero/logs?limit=0", "limit"),
        ("/api/nodes/Bad!/latest", "not a node name"),
    ],
)
async def test_bad_reads_get_a_400_naming_the_parameter(
    hub_url: str, path: str, message: str
) -> None:
    status, body = await get(hub_url + path)
    assert status == 400 and message in body["error"], body


async def test_an_unknown_node_is_a_404(hub_url: str) -> None:
    status, body = await get(f"{hub_url}/api/nodes/attic/latest")
    assert status == 404 and "attic" in body["error"]


async def test_writes_need_the_right_token(hub_url: str) -> None:
    url = f"{hub_url}/api/nodes/pizero/commands"
    body = {"command": "plugin.restart", "args": {"plugin": "x"}}
    assert (await post(url, body, token=None))[0] == 401
    assert (await post(url, body, token="wrong" * 8))[0] == 403


async def test_a_command_the_node_cannot_run_is_answered_not_crashed(hub_url: str) -> None:
    status, result = await post(
        f"{hub_url}/api/nodes/pizero/commands", {"command": "buzzer.beep", "args": {}}
    )
    assert status == 200 and result["ok"] is False
    assert result["error"]["code"] == "unknown-command"


@pytest.mark.parametrize(
    "body,message",
    [
        ({"command": "rm -rf"}, "command"),
        ({"command": "buzzer.beep", "args": []}, "args"),
        ({"command": "buzzer.beep", "timeout_s": 600}, "timeout_s"),
        ({"command": "buzzer.beep", "extra": 1}, "unknown keys extra"),
        ([1, 2], "JSON object"),
    ],
)
async def test_bad_commands_get_a_400(hub_url: str, body: object, message: str) -> None:
    status, reply = await post(f"{hub_url}/api/nodes/pizero/commands", body)
    assert status == 400 and message in reply["error"], reply


async def test_a_command_to_an_offline_node_fails_fast(hub_url: str) -> None:
    started = asyncio.get_running_loop().time()
    status, result = await post(
        f"{hub_url}/api/nodes/attic/commands", {"command": "buzzer.beep", "args": {}}
    )
    assert status == 503 and result["error"]["code"] == "offline"
    assert asyncio.get_running_loop().time() - started < 1.0


async def test_nodes_carry_their_newest_health(web_fleet: Fleet) -> None:
    assert web_fleet.hub.collector is not None
    await web_fleet.hub.collector.wait_for(lambda h: "pizero" in h.latest_health())
    status, body = await get(f"{web_fleet.url}/api/nodes")
    pizero = next(n for n in body["nodes"] if n["name"] == "pizero")
    assert isinstance(pizero["health_at"], float)
    assert pizero["health"]["plugins_total"] >= 1
    status, body = await get(f"{web_fleet.url}/api/nodes/pizero")
    assert status == 200 and body["node"]["health"] is not None


async def test_a_nodes_plugins(web_fleet: Fleet) -> None:
    assert web_fleet.hub.collector is not None
    await web_fleet.hub.collector.wait_for(lambda h: h.plugins("pizero") is not None)
    status, body = await get(f"{web_fleet.url}/api/nodes/pizero/plugins")
    assert status == 200 and body["node"] == "pizero"
    assert body["plugins"] == (await get(f"{web_fleet.url}/api/nodes/pizero"))[1]["plugins"]
    assert (await get(f"{web_fleet.url}/api/nodes/attic/plugins"))[0] == 404


@pytest.mark.parametrize(
    "path,message",
    [
        ("/api/nodes/pizero/logs?limit=5&limit=6", "limit: given 2 times"),
        ("/api/nodes/pizero/logs?limit=99999999999999999999999999", "limit"),
        ("/api/nodes/pizero/logs?limit=%C2%B2", "limit"),  # '²' is a digit to str.isdigit
        ("/api/nodes/pizero/logs?before=-1", "before"),
        ("/api/nodes/pizero/health?since=nan", "since: must be finite"),
        ("/api/nodes/pizero/health?since=1e999", "since: must be finite"),
        ("/api/series?node=pizero&plugin=x&metric=y&start=-1e308&end=1e308", "resolution"),
        ("/api/series?node=pizero&plugin=x&metric=y&start=5&end=5", "start: must be before"),
        ("/api/series?node=pizero%0A&plugin=x&metric=y", "node"),
        ("/api/nodes/pizero%0A/latest", "not a node name"),
        ("/api/nodes/pizero/display.png?scale=9", "scale"),
        ("/api/stream?after=" + "1" * 65, "after"),
    ],
)
async def test_odd_inputs_are_400s_not_500s(hub_url: str, path: str, message: str) -> None:
    status, body = await get(hub_url + path)
    assert status == 400 and message in body["error"], body


@pytest.mark.parametrize(
    "raw",
    [b'{"command": "buzzer.beep", "args": {"x": NaN}}', b"[" * 5000 + b"]" * 5000, b"\xff"],
)
async def test_odd_bodies_are_400s(hub_url: str, raw: bytes) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{hub_url}/api/nodes/pizero/commands", data=raw, headers=headers) as reply,
    ):
        assert reply.status == 400, await reply.text()


async def test_a_body_over_16_kib_is_a_413(hub_url: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = {"command": "buzzer.beep", "args": {"x": "y" * 20_000}}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{hub_url}/api/nodes/pizero/commands", json=body, headers=headers) as reply,
    ):
        assert reply.status == 413


async def test_a_wrong_method_is_a_json_405_once_authorised(hub_url: str) -> None:
    url, bearer = f"{hub_url}/api/nodes", {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as session:
        async with session.delete(url) as reply:  # an unsafe method: a write, first of all
            assert reply.status == 401
        async with session.delete(url, headers=bearer) as reply:
            assert reply.status == 405 and "error" in await reply.json()


async def test_restart_is_the_plugin_restart_command(hub_url: str) -> None:
    status, result = await post(f"{hub_url}/api/nodes/pizero/plugins/nothing/restart", None)
    assert status == 200 and result["command"] == "plugin.restart"
    assert result["ok"] is False and result["error"]["code"] == "unavailable"
    assert "nothing" in result["error"]["message"]
    assert (await post(f"{hub_url}/api/nodes/pizero/plugins/nothing/restart", None, None))[0] == 401


async def test_large_json_is_gzipped_small_is_not(hub_url: str) -> None:
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with session.get(
            f"{hub_url}/api/openapi.json", headers={"Accept-Encoding": "gzip"}
        ) as reply:
            assert reply.headers["Content-Encoding"] == "gzip"
            assert "Accept-Encoding" in reply.headers["Vary"]
            doc = json.loads(gzip.decompress(await reply.read()))
            assert doc["openapi"] == "3.1.0"
        async with session.get(
            f"{hub_url}/api/health", headers={"Accept-Encoding": "gzip"}
        ) as reply:
            assert "Content-Encoding" not in reply.headers
        async with session.get(
            f"{hub_url}/api/openapi.json", headers={"Accept-Encoding": "identity"}
        ) as reply:
            assert "Content-Encoding" not in reply.headers


@pytest.mark.parametrize("path", ["/api/health", "/api/nodes/attic", "/nowhere", "/metrics"])
async def test_every_answer_has_the_security_headers(hub_url: str, path: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(hub_url + path) as reply:
        for name, value in SECURITY.items():
            assert reply.headers[name] == value, (path, name)
        assert "Content-Security-Policy" not in reply.headers  # JSON, not a page


async def test_the_csp_allows_no_inline_script_or_style() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"


async def test_the_plugins_hub_data_answers_as_the_api_does(web_fleet: Fleet) -> None:
    provider = web_fleet.hub.hub_data
    assert provider is not None
    status, body = await get(f"{web_fleet.url}/api/nodes/pizero/plugins")
    assert status == 200
    detail = json.loads(await asyncio.to_thread(provider.node, "pizero"))
    assert detail["plugins"] == body["plugins"] and detail["node"]["name"] == "pizero"
    latest = json.loads(await asyncio.to_thread(provider.latest, "pizero"))
    assert {r["metric"] for r in latest["latest"]} >= {"cpu_usage", "uptime"}
