"""The node's side of commands: requests from harvester/<node>/cmd/#, run at most once,
answered on harvester/<node>/cmd-result.

    plugin.restart {"plugin": name}   the host's own: Supervisor.restart
    sim.display {"bus"?, "address"?}  the host's own: the sim's SSD1306 as a PNG (sim_display)
    anything else                     the plugin that offers it (or the request's `plugin`)

Bad requests (not ours, not decodable, the topic's command not the payload's) are logged
with topic and reason and dropped. Every request that decodes is answered exactly once
per delivery; it runs at most once (harvester/mesh/command_record.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import aiomqtt

from harvester.config.secrets import Credentials
from harvester.mesh import topics
from harvester.mesh.command_record import CommandRecord
from harvester.mesh.connection import listen, make_client
from harvester.mesh.payloads import (
    CommandError,
    CommandRequest,
    CommandResult,
    ErrorCode,
    PayloadError,
    decode,
    encode,
)
from harvester.mesh.sim_display import NoDisplay, display
from harvester.node import Node
from harvester.node.runner import CommandUnavailable
from harvester.runtime.actuator import ArgValue, CommandRejected
from harvester.runtime.errors import PluginFault, PluginReportedError

log = logging.getLogger("harvester.mesh.commands")

RESTART: Final = "plugin.restart"
SIM_DISPLAY: Final = "sim.display"
PUBLISH_TIMEOUT_S: Final = 10.0


class CommandFailed(Exception):
    """A command that could not be run or failed: becomes the result's error."""

    def __init__(self, code: ErrorCode, message: str, *, plugin: str = "") -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message
        self.plugin = plugin  # the plugin it went to, if it got that far


class CommandExecutor:
    """An async context manager: while inside, `node` answers commands over MQTT.

    `ready` is set once subscribed (and again after each reconnect)."""

    def __init__(self, node: Node, *, credentials: Credentials | None, state_dir: Path) -> None:
        self.node = node
        self.name = node.config.name
        self._credentials = credentials
        self.record_path = state_dir / self.name / "commands.sqlite"
        self._record: CommandRecord | None = None
        self._client: aiomqtt.Client | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self.ready = asyncio.Event()
        self.executed = 0  # commands run (not answered from the record)
        self.dropped = 0  # requests dropped unread

    def stats(self) -> dict[str, float]:
        return {"commands_executed_total": self.executed, "commands_dropped_total": self.dropped}

    async def __aenter__(self) -> CommandExecutor:
        self._record = CommandRecord(self.record_path, node=self.name)
        if self._record.interrupted:
            log.warning(
                "%s: %d commands were cut off by a restart; they are answered failed, not retried",
                self.record_path,
                self._record.interrupted,
            )
        self._loop_task = asyncio.create_task(self._serve(), name=f"{self.name}-cmd")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tasks = [t for t in (self._loop_task, *self._running) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._record is not None:
            self._record.close()

    # -- the connection ---------------------------------------------------------------

    async def _serve(self) -> None:
        config = self.node.config

        def factory() -> aiomqtt.Client:
            # A persistent session: requests sent while the node was away wait at the broker.
            return make_client(
                config,
                client_id=f"{self.name}-cmd",
                credentials=self._credentials,
                clean_session=False,
            )

        await listen(
            factory,
            what=f"{self.name} commands",
            filters=[f"{topics.ROOT}/{self.name}/cmd/#"],
            on_message=self._receive,
            ready=self.ready,
            hold=self._hold,
        )

    def _hold(self, client: aiomqtt.Client | None) -> None:
        self._client = client

    def _drop(self, topic: str, reason: str) -> None:
        self.dropped += 1
        log.warning("%s: dropped a command request on %s: %s", self.name, topic, reason)

    def _receive(self, topic: str, payload: object) -> None:
        """Decode, check against the record, start the command (record first)."""
        parsed = topics.parse(topic)
        if parsed is None or parsed.kind != "cmd" or parsed.node != self.name:
            self._drop(topic, "not a command topic of this node")
            return
        if not isinstance(payload, bytes | bytearray):
            self._drop(topic, f"payload is {type(payload).__name__}, not bytes")
            return
        try:
            request = decode(CommandRequest, payload)
        except PayloadError as exc:
            self._drop(topic, str(exc))
            return
        if request.command != parsed.rest:
            self._drop(topic, f"the payload's command {request.command!r} is not the topic's")
            return
        assert self._record is not None
        recorded = self._record.lookup(request.id)
        if recorded == "running":
            log.info("%s: command %s redelivered while it runs; one answer", self.name, request.id)
            return
        if isinstance(recorded, CommandResult):
            log.info("%s: command %s redelivered; answered from the record", self.name, request.id)
            self._spawn(self._publish(recorded.model_copy(update={"repeated": True})))
            return
        if time.time() > request.expires_at:
            result = self._result(request, "", error=("expired", "arrived after expires_at"))
            self._record.finish(result)
            self._spawn(self._publish(result))
            return
        self._record.begin(request)
        self._spawn(self._execute(request))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _publish(self, result: CommandResult) -> None:
        client = self._client
        if client is None:  # recorded: a redelivery after the reconnect gets it
            log.warning("%s: no connection to answer command %s", self.name, result.id)
            return
        try:
            await client.publish(
                topics.cmd_result(self.name), encode(result), qos=1, timeout=PUBLISH_TIMEOUT_S
            )
        except aiomqtt.MqttError as exc:
            log.warning("%s: answer to command %s not sent: %s", self.name, result.id, exc)

    # -- running a command ----------------------------------------------------------------

    async def _execute(self, request: CommandRequest) -> None:
        plugin = request.plugin or ""
        self.executed += 1
        try:
            plugin, values = await self._run(request)
            result = self._result(request, plugin, values=values)
        except CommandFailed as exc:
            result = self._result(request, exc.plugin or plugin, error=(exc.code, exc.message))
        assert self._record is not None
        self._record.finish(result)
        log.info(
            "%s: command %s (%s) %s",
            self.name,
            request.command,
            request.id,
            "done" if result.ok else f"{result.error.code if result.error else ''}",
        )
        await self._publish(result)

    async def _run(self, request: CommandRequest) -> tuple[str, dict[str, ArgValue]]:
        """(the plugin that ran it, its result). Raises CommandFailed."""
        supervisor = self.node.supervisor
        if request.command == RESTART:
            target = request.args.get("plugin")
            if not isinstance(target, str):
                raise CommandFailed("rejected", 'plugin.restart takes {"plugin": <name>}')
            try:
                supervisor.restart(target)
            except CommandUnavailable as exc:
                raise CommandFailed("unavailable", str(exc), plugin=target) from exc
            return target, {"plugin": target}
        if request.command == SIM_DISPLAY:
            try:  # a thread: drawing the PNG is pure Python, a few ms the loop need not wait
                return "", await asyncio.to_thread(display, self.node.backend, dict(request.args))
            except NoDisplay as exc:
                raise CommandFailed("unavailable", str(exc)) from exc
            except ValueError as exc:
                raise CommandFailed("rejected", str(exc)) from exc
        plugin = self._route(request)
        try:
            return plugin, await supervisor.command(plugin, request.command, dict(request.args))
        except CommandRejected as exc:
            raise CommandFailed("rejected", str(exc), plugin=plugin) from exc
        except CommandUnavailable as exc:
            raise CommandFailed("unavailable", str(exc), plugin=plugin) from exc
        except PluginReportedError as exc:
            raise CommandFailed("failed", str(exc), plugin=plugin) from exc
        except PluginFault as exc:  # a timeout is one
            raise CommandFailed("fault", f"{exc.kind}: {exc}", plugin=plugin) from exc

    def _route(self, request: CommandRequest) -> str:
        runners = self.node.supervisor.runners
        if request.plugin is not None:
            if request.plugin not in runners:
                raise CommandFailed("unavailable", f"no plugin {request.plugin!r} on this node")
            return request.plugin  # its runner says if it does not answer this command
        offering = sorted(n for n, r in runners.items() if request.command in r.commands)
        if not offering:
            builtin = {RESTART, SIM_DISPLAY}
            offered = sorted({c for r in runners.values() for c in r.commands} | builtin)
            raise CommandFailed(
                "unknown-command",
                f"no plugin on {self.name} offers {request.command!r};"
                f" it offers: {', '.join(offered)}",
            )
        if len(offering) > 1:
            raise CommandFailed(
                "rejected",
                f"{request.command!r} is offered by {', '.join(offering)}: name the plugin",
            )
        return offering[0]

    def _result(
        self,
        request: CommandRequest,
        plugin: str,
        *,
        values: dict[str, ArgValue] | None = None,
        error: tuple[ErrorCode, str] | None = None,
    ) -> CommandResult:
        return CommandResult(
            id=request.id,
            node=self.name,
            command=request.command,
            plugin=plugin,
            ok=error is None,
            result=values or {},
            error=CommandError(code=error[0], message=error[1][:4096]) if error else None,
            at=time.time(),
        )
