"""Commands over a real mosquitto: a node's CommandExecutor runs each request at most once
(its SQLite record survives a restart) and the hub's CommandClient awaits the answer by id.

Most tests drive a node whose one plugin has no component (it is quarantined at once), so
they need no WASM; the ones that beep the simulated buzzer run the pi4-actuator plugin."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from harvester.config import NodeConfig
from harvester.hal.sim.backend import SimBackend
from harvester.mesh import topics
from harvester.mesh.command_record import INTERRUPTED, CommandRecord
from harvester.mesh.commands import CommandClient, CommandExecutor
from harvester.mesh.payloads import CommandRequest, CommandResult, decode, encode
from harvester.node import Node
from harvester.node.events import StateEvent
from harvester.node.runner import CommandUnavailable
from tests.conftest import BME680_PLUGIN, make_node, running, state_is
from tests.mesh.brokers import MosquittoProcess

GHOST = {"name": "ghost"}  # no component in the plugin folder: quarantined at once
ACTUATOR = {
    "name": "pi4-actuator",
    "grants": {"leds": [{"strip": 0, "pixels": 8}], "buzzer": [13]},
    "settings": {"buzzer_pin": 13, "strip": 0},
}
SIM = {"time_scale": 0, "leds": [{"strip": 0, "pixels": 8, "pin": 18}], "buzzer": [{"pin": 13}]}


def node_config(
    plugin_dir: Path, broker: MosquittoProcess, state: Path, plugins: list[dict[str, Any]]
) -> NodeConfig:
    return make_node(
        plugin_dir,
        plugins,
        name="spoke-a",
        state_dir=state,
        sim=SIM,
        mesh={"broker": {"host": "127.0.0.1", "port": broker.port}},
    )


def hub_config(broker: MosquittoProcess) -> NodeConfig:
    return NodeConfig.model_validate(
        {
            "name": "hub",
            "role": "hub",
            "mesh": {"broker": {"host": "127.0.0.1", "port": broker.port}},
        }
    )


@asynccontextmanager
async def serving(config: NodeConfig, state: Path) -> AsyncIterator[tuple[Node, CommandExecutor]]:
    backend = SimBackend(config.sim)
    async with Node(config, backend=backend) as node:
        async with CommandExecutor(node, credentials=None, state_dir=state) as executor:
            async with asyncio.timeout(10):
                await executor.ready.wait()
            yield node, executor
    backend.close()


class Raw:
    """A plain MQTT client: publishes requests as given, collects every cmd-result."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.results: asyncio.Queue[CommandResult] = asyncio.Queue()

    async def request(self, command: str, *, raw: bytes | None = None, **fields: Any) -> str:
        now = time.time()
        request = {
            "id": uuid.uuid4().hex,
            "command": command,
            "sent_at": now,
            "expires_at": now + 10,
            **fields,
        }
        payload = raw if raw is not None else encode(CommandRequest.model_validate(request))
        await self.client.publish(topics.cmd("spoke-a", command), payload, qos=1)
        return str(request["id"])

    async def result(self) -> CommandResult:
        async with asyncio.timeout(10):
            return await self.results.get()


@asynccontextmanager
async def raw_client(broker: MosquittoProcess) -> AsyncIterator[Raw]:
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="test-raw") as client:
        await client.subscribe(topics.cmd_result("spoke-a"), qos=1)
        raw = Raw(client)

        async def collect() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                raw.results.put_nowait(decode(CommandResult, message.payload))

        task = asyncio.create_task(collect())
        try:
            yield raw
        finally:
            task.cancel()


# -- plugin restart on the node (no mesh) ------------------------------------------------


async def test_a_quarantined_plugin_is_started_again_and_an_unknown_one_is_unavailable(
    tmp_path: Path,
) -> None:
    config = make_node(tmp_path, [GHOST])
    async with running(config) as n:
        await n.wait_for(state_is("quarantined", "ghost"))
        runner = n.supervisor.runners["ghost"]
        runner.faults.append(0.0)  # as if it had faulted before
        starts = count(n.events, "starting")
        n.supervisor.restart("ghost")
        assert not runner.faults  # history cleared before it runs again
        await n.wait_for(lambda e: count(n.events, "starting") > starts)
        await n.wait_for(lambda e: count(n.events, "quarantined") == 2)  # and again (no file)
        with pytest.raises(CommandUnavailable, match="'nope': no such plugin"):
            n.supervisor.restart("nope")


@pytest.mark.wasm
async def test_a_polling_sensor_gets_a_fresh_instance_at_once_and_polls_on(
    plugin_dir: Path,
) -> None:
    restart = {"backoff_initial_s": 30, "backoff_max_s": 30}  # a back-off would show
    config = make_node(plugin_dir, [BME680_PLUGIN], restart=restart)
    async with running(config) as n:
        first = await n.wait_for(state_is("running", "bme680"))
        await n.wait_for(lambda e: len(n.readings("bme680")) >= 2)
        n.supervisor.restart("bme680")
        again = await n.wait_for(lambda e: state_is("running", "bme680")(e) and e.seq > first.seq)
        between = [e for e in n.events if first.seq < e.seq < again.seq]
        states = [e.state for e in between if isinstance(e, StateEvent) and e.plugin == "bme680"]
        assert states == ["starting"]  # no backoff: not a fault
        runner = n.supervisor.runners["bme680"]
        assert (runner.instances_started, runner.restarts, len(runner.faults)) == (2, 1, 0)
        polled = len(n.readings("bme680"))
        await n.wait_for(lambda e: len(n.readings("bme680")) > polled)  # the new one polls


def count(events: list[Any], state: str) -> int:
    return sum(1 for e in events if state_is(state, "ghost")(e))


# -- the executor and the client over mosquitto -------------------------------------------


async def test_an_unknown_command_is_answered_with_what_the_node_offers(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    config = node_config(tmp_path, mosquitto, tmp_path / "state", [GHOST])
    async with serving(config, tmp_path / "state"), raw_client(mosquitto) as raw:
        sent = await raw.request("buzzer.beep", args={"pin": 13})
        answer = await raw.result()
        assert (answer.id, answer.ok, answer.repeated) == (sent, False, False)
        assert answer.error is not None and answer.error.code == "unknown-command"
        assert "offers: plugin.restart" in answer.error.message


async def test_a_redelivered_request_is_answered_from_the_record_also_after_a_restart(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    state = tmp_path / "state"
    config = node_config(tmp_path, mosquitto, state, [GHOST])
    async with raw_client(mosquitto) as raw:
        async with serving(config, state) as (_, executor):
            id_ = await raw.request("plugin.restart", args={"plugin": "ghost"})
            first = await raw.result()
            assert (first.ok, first.repeated, first.result) == (True, False, {"plugin": "ghost"})
            again = uuid_request(id_)
            await raw.client.publish(topics.cmd("spoke-a", "plugin.restart"), again, qos=1)
            second = await raw.result()
            assert (second.id, second.ok, second.repeated) == (id_, True, True)
            assert executor.executed == 1
        async with serving(config, state) as (_, executor):
            await raw.client.publish(topics.cmd("spoke-a", "plugin.restart"), again, qos=1)
            third = await raw.result()
            assert (third.id, third.ok, third.repeated) == (id_, True, True)
            assert executor.executed == 0  # the new executor ran nothing


def uuid_request(id_: str, command: str = "plugin.restart", **fields: Any) -> bytes:
    now = time.time()
    return encode(
        CommandRequest(
            id=id_,
            command=command,
            args={"plugin": "ghost"},
            sent_at=now,
            expires_at=now + 10,
            **fields,
        )
    )


async def test_a_command_cut_off_by_a_crash_is_answered_failed_not_run(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    state = tmp_path / "state"
    config = node_config(tmp_path, mosquitto, state, [GHOST])
    id_ = uuid.uuid4().hex
    record = CommandRecord(state / "spoke-a" / "commands.sqlite", node="spoke-a")
    assert record.begin(decode(CommandRequest, uuid_request(id_)))  # "running", then a crash
    record.close()
    async with serving(config, state) as (_, executor), raw_client(mosquitto) as raw:
        await raw.client.publish(topics.cmd("spoke-a", "plugin.restart"), uuid_request(id_), qos=1)
        answer = await raw.result()
        assert answer.repeated and not answer.ok
        assert answer.error is not None and answer.error.code == "failed"
        assert answer.error.message == INTERRUPTED
        assert executor.executed == 0


async def test_an_expired_request_is_not_executed(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    config = node_config(tmp_path, mosquitto, tmp_path / "state", [GHOST])
    async with serving(config, tmp_path / "state") as (_, executor):
        async with raw_client(mosquitto) as raw:
            now = time.time()
            await raw.request(
                "plugin.restart", args={"plugin": "ghost"}, sent_at=now - 20, expires_at=now - 10
            )
            answer = await raw.result()
    assert answer.error is not None and answer.error.code == "expired"
    assert executor.executed == 0


async def test_malformed_requests_are_dropped_with_a_log_line_and_the_next_is_answered(
    tmp_path: Path, mosquitto: MosquittoProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "harvester.mesh.commands")
    config = node_config(tmp_path, mosquitto, tmp_path / "state", [GHOST])
    async with serving(config, tmp_path / "state") as (_, executor):
        async with raw_client(mosquitto) as raw:
            await raw.request("buzzer.beep", raw=b"{not json")
            await raw.request("buzzer.beep", raw=b'{"v": 1, "id": "x"}')
            mismatch = uuid_request(uuid.uuid4().hex)  # says plugin.restart
            await raw.client.publish(topics.cmd("spoke-a", "buzzer.beep"), mismatch, qos=1)
            good = await raw.request("plugin.restart", args={"plugin": "nope"})
            answer = await raw.result()
    assert answer.id == good  # the first answer is to the good one: the others had none
    assert answer.error is not None and answer.error.code == "unavailable"
    assert executor.dropped == 3
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 3
    assert all("harvester/spoke-a/cmd/buzzer.beep" in line for line in dropped)
    assert "not JSON" in dropped[0] and "CommandRequest" in dropped[1]
    assert "is not the topic's" in dropped[2]


async def test_the_client_fails_fast_offline_and_times_out_on_silence(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    online = {"spoke-a": False}
    async with CommandClient(
        hub_config(mosquitto), credentials=None, node_online=lambda n: online[n]
    ) as client:
        started = time.monotonic()
        offline = await client.send("spoke-a", "buzzer.beep", {"pin": 13}, timeout_s=30)
        assert time.monotonic() - started < 5  # not the timeout: it never waited
        assert offline.error is not None and offline.error.code == "offline"
        assert client.sent == 0  # never published
        online["spoke-a"] = True  # but nothing answers there
        silent = await client.send("spoke-a", "buzzer.beep", {"pin": 13}, timeout_s=0.5)
        assert silent.error is not None and silent.error.code == "timeout"
        assert client.sent == 1


async def test_the_client_gets_the_answer_by_id(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    config = node_config(tmp_path, mosquitto, tmp_path / "state", [GHOST])
    async with (
        serving(config, tmp_path / "state"),
        CommandClient(hub_config(mosquitto), credentials=None, node_online=lambda n: True) as hub,
    ):
        answer = await hub.send("spoke-a", "plugin.restart", {"plugin": "ghost"})
        assert (answer.node, answer.ok, answer.result) == ("spoke-a", True, {"plugin": "ghost"})
        unknown = await hub.send("spoke-a", "led.set", {"index": 0})
        assert unknown.error is not None and unknown.error.code == "unknown-command"


# -- with the real actuator plugin (WASM) ------------------------------------------------


@pytest.mark.wasm
async def test_a_beep_over_the_mesh_sounds_once_even_when_redelivered(
    plugin_dir: Path, tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    config = node_config(plugin_dir, mosquitto, tmp_path / "state", [ACTUATOR])
    async with serving(config, tmp_path / "state") as (node, _):
        await wait_running(node, "pi4-actuator")
        async with CommandClient(
            hub_config(mosquitto), credentials=None, node_online=lambda n: True
        ) as hub:
            answer = await hub.send(
                "spoke-a", "buzzer.beep", {"frequency_hz": 880, "duration_ms": 50}
            )
        assert answer.ok and answer.plugin == "pi4-actuator", answer
        played = node.backend.buzzer.played(13)  # type: ignore[attr-defined]
        assert [(t.frequency_hz, t.duration_ms) for t in played] == [(880, 50)]
        async with raw_client(mosquitto) as raw:
            again = encode(
                CommandRequest(
                    id=answer.id,
                    command="buzzer.beep",
                    args={"frequency_hz": 880, "duration_ms": 50},
                    sent_at=time.time(),
                    expires_at=time.time() + 10,
                )
            )
            await raw.client.publish(topics.cmd("spoke-a", "buzzer.beep"), again, qos=1)
            repeated = await raw.result()
        assert repeated.repeated and repeated.ok and repeated.result == answer.result
        assert len(node.backend.buzzer.played(13)) == 1  # type: ignore[attr-defined]


@pytest.mark.wasm
async def test_plugin_restart_replaces_a_running_instance_without_a_fault(
    plugin_dir: Path, tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    config = node_config(plugin_dir, mosquitto, tmp_path / "state", [ACTUATOR])
    async with serving(config, tmp_path / "state") as (node, _):
        runner = node.supervisor.runners["pi4-actuator"]
        await wait_running(node, "pi4-actuator")
        assert runner.instances_started == 1
        async with CommandClient(
            hub_config(mosquitto), credentials=None, node_online=lambda n: True
        ) as hub:
            answer = await hub.send("spoke-a", "plugin.restart", {"plugin": "pi4-actuator"})
            assert answer.ok, answer
            async with asyncio.timeout(30), node.bus.subscribe() as queue:
                while runner.instances_started < 2 or runner.state != "running":
                    await queue.get()
            assert not runner.faults and runner.restarts == 1
            beep = await hub.send(
                "spoke-a", "buzzer.beep", {"frequency_hz": 440, "duration_ms": 20}
            )
            assert beep.ok, beep  # the fresh instance answers
        played = node.backend.buzzer.played(13)  # type: ignore[attr-defined]
        assert [(t.frequency_hz, t.duration_ms) for t in played] == [(440, 20)]


async def wait_running(node: Node, plugin: str) -> None:
    async with asyncio.timeout(60), node.bus.subscribe() as queue:
        while node.supervisor.runners[plugin].state != "running":
            await queue.get()


@pytest.mark.wasm
async def test_a_command_that_kills_its_instance_is_answered_fault(
    plugin_dir: Path, tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    loop = {
        "name": "actuator-loop",
        "limits": {"call_timeout_ms": 300},
        "grants": {"buzzer": [13], "leds": [{"strip": 0, "pixels": 4}]},
    }
    config = node_config(plugin_dir, mosquitto, tmp_path / "state", [loop])
    async with serving(config, tmp_path / "state") as (node, _):
        await wait_running(node, "actuator-loop")
        async with CommandClient(
            hub_config(mosquitto), credentials=None, node_online=lambda n: True
        ) as hub:
            answer = await hub.send("spoke-a", "spin.forever", timeout_s=10)
            assert answer.error is not None and answer.error.code == "fault", answer
            assert "timeout" in answer.error.message and answer.plugin == "actuator-loop"
            bad = await hub.send("spoke-a", "buzzer.beep", {"pin": 13, "hz": "loud"})
            assert bad.error is not None and bad.error.code in ("rejected", "unavailable"), bad
