"""HTTP handler plugins under the supervisor: started and initialised like any plugin,
requests answered in the instance's thread under its deadline, a trap or a timeout
answered by a restart with back-off, and a bad response refused without one."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from harvester.hal.sim.backend import SimBackend
from harvester.node.events import StateEvent
from harvester.node.node import Node
from harvester.node.runner import HTTP_MAX_WAITING, HttpUnavailable
from harvester.runtime.errors import PluginContractError, PluginTimeout, PluginTrap
from tests.conftest import state_is
from tests.node.http_node import config, echo, get, hostile, running_again, serving
from tests.runtime.hub_fakes import FakeHubData

pytestmark = pytest.mark.wasm


async def test_a_request_is_answered_by_the_running_plugin(http_plugin_dir: Path) -> None:
    cfg = config(http_plugin_dir, echo(settings={"title": "Greenhouse"}))
    async with serving(cfg, FakeHubData()) as n:
        await n.wait_for(state_is("running", "ui"))
        got = await n.supervisor.handle_http("ui", get("/ui/x", "a=1"))
        assert got.status == 200
        assert json.loads(got.body)["title"] == "Greenhouse"  # init had its settings
        hub = await n.supervisor.handle_http("ui", get("/ui/hub/node", "node=pi4"))
        assert json.loads(hub.body) == {"node": {"name": "pi4"}, "plugins": []}


async def test_the_node_hands_its_hub_data_to_the_plugin(http_plugin_dir: Path) -> None:
    cfg = config(http_plugin_dir, echo())
    fake = FakeHubData()
    node = Node(cfg, backend=SimBackend(cfg.sim), hub_data=fake)
    async with node.bus.subscribe() as events, node:
        while not (isinstance(e := await events.get(), StateEvent) and e.state == "running"):
            pass
        got = await node.supervisor.handle_http("ui", get("/ui/hub/nodes"))
        assert got.body == b'{"nodes": ["pi4"]}' and fake.calls == [("nodes",)]


async def test_a_trap_faults_the_instance_and_it_serves_again_after_back_off(
    http_plugin_dir: Path,
) -> None:
    cfg = config(http_plugin_dir, echo(settings={"trap_path": "/ui/boom"}))
    async with serving(cfg) as n:
        await n.wait_for(state_is("running", "ui"))
        runner = n.supervisor.runners["ui"]
        with pytest.raises(PluginTrap, match="unexpected exception"):
            await n.supervisor.handle_http("ui", get("/ui/boom"))
        backoff = await n.wait_for(state_is("backoff", "ui"))
        assert isinstance(backoff, StateEvent) and backoff.reason.startswith("trap:")
        await running_again(n, "ui")
        assert runner.restarts == 1
        assert (await n.supervisor.handle_http("ui", get("/ui/after"))).status == 200


async def test_while_backing_off_requests_fail_fast(http_plugin_dir: Path) -> None:
    cfg = config(http_plugin_dir, echo(settings={"trap_path": "/ui/boom"}), backoff_s=3600)
    async with serving(cfg) as n:
        await n.wait_for(state_is("running", "ui"))
        with pytest.raises(PluginTrap):
            await n.supervisor.handle_http("ui", get("/ui/boom"))
        await n.wait_for(state_is("backoff", "ui"))
        with pytest.raises(HttpUnavailable, match=r"is not running \(state backoff\)"):
            await n.supervisor.handle_http("ui", get("/ui/x"))
        with pytest.raises(HttpUnavailable, match="no such plugin"):
            await n.supervisor.handle_http("nobody", get("/ui/x"))


async def test_a_handler_that_never_returns_times_out_and_is_restarted(
    http_plugin_dir: Path,
) -> None:
    cfg = config(http_plugin_dir, hostile(limits={"call_timeout_ms": 200}))
    async with serving(cfg) as n:
        await n.wait_for(state_is("running", "evil"))
        with pytest.raises(PluginTimeout):
            await n.supervisor.handle_http("evil", get("/ui/loop"))
        await n.wait_for(state_is("backoff", "evil"))
        await running_again(n, "evil")
        assert (await n.supervisor.handle_http("evil", get("/ui/x"))).body == b"fine"


async def test_a_bad_response_is_refused_but_the_instance_keeps_serving(
    http_plugin_dir: Path,
) -> None:
    cfg = config(http_plugin_dir, hostile())
    async with serving(cfg) as n:
        await n.wait_for(state_is("running", "evil"))
        for path in ("/ui/crlf", "/ui/set-cookie", "/ui/status-1000"):
            with pytest.raises(PluginContractError):
                await n.supervisor.handle_http("evil", get(path))
        assert (await n.supervisor.handle_http("evil", get("/ui/x"))).body == b"fine"
        runner = n.supervisor.runners["evil"]
        assert runner.instances_started == 1 and runner.state == "running"
        said = [e.message for e in n.logs("evil")]
        assert any(m.startswith("bad response to GET /ui/crlf: header 'x-note'") for m in said)


async def test_requests_take_turns_in_one_instance(http_plugin_dir: Path) -> None:
    cfg = config(http_plugin_dir, echo())
    async with serving(cfg) as n:
        await n.wait_for(state_is("running", "ui"))
        answers = await asyncio.gather(
            *(n.supervisor.handle_http("ui", get(f"/ui/{i}")) for i in range(20))
        )
        assert [json.loads(a.body)["path"] for a in answers] == [f"/ui/{i}" for i in range(20)]


async def test_hub_data_without_the_grant_quarantines_with_a_clear_message(
    http_plugin_dir: Path,
) -> None:
    cfg = config(http_plugin_dir, echo(grants={}))
    async with serving(cfg, FakeHubData()) as n:
        event = await n.wait_for(state_is("quarantined", "ui"))
        assert isinstance(event, StateEvent)
        assert "imports harvester:plugin/hub-data@1.2.0" in event.reason
        assert "grants in the node config do not cover" in event.reason
        with pytest.raises(HttpUnavailable, match="state quarantined"):
            await n.supervisor.handle_http("ui", get("/"))


async def test_requests_queued_behind_a_stuck_one_are_bounded_and_then_refused(
    http_plugin_dir: Path,
) -> None:
    cfg = config(http_plugin_dir, hostile(limits={"call_timeout_ms": 300}), backoff_s=3600)
    async with serving(cfg) as n:
        await n.wait_for(state_is("running", "evil"))
        # Tasks start in the order they were made: this one takes the instance first.
        stuck = asyncio.ensure_future(n.supervisor.handle_http("evil", get("/ui/loop")))
        waiting = [
            asyncio.ensure_future(n.supervisor.handle_http("evil", get(f"/ui/{i}")))
            for i in range(HTTP_MAX_WAITING + 3)
        ]
        outcomes = await asyncio.gather(stuck, *waiting, return_exceptions=True)
        assert isinstance(outcomes[0], PluginTimeout)
        messages = [str(o) for o in outcomes[1:]]
        assert all(isinstance(o, HttpUnavailable) for o in outcomes[1:])
        assert sum("requests waiting" in m for m in messages) == 3  # refused at once
        # The rest waited their turn, then found the instance faulted under them.
        assert sum("was restarting" in m for m in messages) == HTTP_MAX_WAITING
