"""The hub's side of commands: send a request to a node and await its answer by id.

A node that is offline gets nothing (an `offline` result at once: a command is for now,
not for whenever the node returns); one that does not answer in time gets `timeout`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Final

import aiomqtt

from harvester.config import NodeConfig
from harvester.config.secrets import Credentials
from harvester.mesh import topics
from harvester.mesh.connection import Background, listen, make_client
from harvester.mesh.payloads import (
    ArgValue,
    CommandError,
    CommandRequest,
    CommandResult,
    ErrorCode,
    PayloadError,
    decode,
    encode,
)

log = logging.getLogger("harvester.mesh.commands")

DEFAULT_TIMEOUT_S: Final = 5.0


class CommandClient(Background):
    """An async context manager: `send` works while inside (it waits for the broker
    connection, within the command's timeout)."""

    def __init__(
        self,
        config: NodeConfig,
        *,
        credentials: Credentials | None,
        node_online: Callable[[str], bool],
    ) -> None:
        self.config = config
        self._credentials = credentials
        self._node_online = node_online
        self._waiting: dict[str, asyncio.Future[CommandResult]] = {}
        self._client: aiomqtt.Client | None = None
        self.ready = asyncio.Event()
        self.sent = 0
        self.timeouts = 0

    def stats(self) -> dict[str, float]:
        return {"commands_sent_total": self.sent, "commands_timed_out_total": self.timeouts}

    def _task_name(self) -> str:
        return f"{self.config.name}-cmdclient"

    def _hold(self, client: aiomqtt.Client | None) -> None:
        self._client = client

    async def _serve(self) -> None:
        def factory() -> aiomqtt.Client:
            return make_client(
                self.config,
                client_id=f"{self.config.name}-cmdclient",
                credentials=self._credentials,
            )

        await listen(
            factory,
            what="command client",
            filters=[topics.every_node("cmd-result")],
            on_message=self._receive,
            ready=self.ready,
            hold=self._hold,
        )

    def _receive(self, topic: str, payload: object) -> None:
        parsed = topics.parse(topic)
        if parsed is None or parsed.kind != "cmd-result":
            log.warning("command client: dropped a message on %s: not a cmd-result", topic)
            return
        if not isinstance(payload, bytes | bytearray):
            log.warning("command client: dropped %s: payload is not bytes", topic)
            return
        try:
            result = decode(CommandResult, payload)
        except PayloadError as exc:
            log.warning("command client: dropped a result on %s: %s", topic, exc)
            return
        if result.node != parsed.node:
            log.warning(
                "command client: dropped a result on %s: it names node %r", topic, result.node
            )
            return
        waiting = self._waiting.get(result.id)
        if waiting is None or waiting.done():  # a late or repeated answer; nobody waits
            log.info("command client: answer %s from %s not awaited", result.id, parsed.node)
            return
        waiting.set_result(result)

    async def send(
        self,
        node: str,
        command: str,
        args: Mapping[str, ArgValue] | None = None,
        *,
        plugin: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> CommandResult:
        """Send `command` to `node` and return its answer, or an `offline` / `timeout`
        result. Raises pydantic's ValidationError for a request that is not well formed
        (a bad node, command or argument name): the caller's mistake, not the node's."""
        now = time.time()
        request = CommandRequest(
            id=uuid.uuid4().hex,
            command=command,
            args=dict(args or {}),
            plugin=plugin,
            sent_at=now,
            expires_at=now + timeout_s,
        )

        def failed(code: ErrorCode, message: str) -> CommandResult:
            return CommandResult(
                id=request.id,
                node=node,
                command=command,
                plugin=plugin or "",
                ok=False,
                error=CommandError(code=code, message=message),
                at=time.time(),
            )

        if not self._node_online(node):
            return failed("offline", f"node {node} is offline; not sent")
        answer = asyncio.get_running_loop().create_future()
        self._waiting[request.id] = answer
        try:
            async with asyncio.timeout(timeout_s):
                await self.ready.wait()
                client = self._client
                assert client is not None
                await client.publish(topics.cmd(node, command), encode(request), qos=1)
                self.sent += 1
                return await answer
        except TimeoutError:
            self.timeouts += 1
            return failed("timeout", f"no answer from {node} in {timeout_s:g} s")
        except aiomqtt.MqttError as exc:
            return failed("timeout", f"not sent to {node}: {exc}")
        finally:
            del self._waiting[request.id]
