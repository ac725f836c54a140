"""What a runner is asked from outside: an actuator's commands, an HTTP handler's requests.

Part of PluginRunner (its base class), split out of runner.py: each request runs in the
live instance's thread, under its deadline, taking turns with its polls. A request that
waited its turn while a hot reload swapped a new version in is served by the new one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from harvester.constants import LogLevel
from harvester.node.live import CommandUnavailable, HttpUnavailable, LiveInstance
from harvester.node.plugin_log import PluginLog
from harvester.runtime.actuator import ArgValue, Command, CommandRejected, check_arguments
from harvester.runtime.errors import PluginContractError, PluginFault, PluginReportedError
from harvester.runtime.http import HttpRequest, HttpResponse
from harvester.runtime.plugin import PluginInstance
from harvester.runtime.worker import InstanceThread

T = TypeVar("T")
# Requests that may wait for one HTTP handler instance (they take turns: one Store);
# more are refused at once rather than queued behind a slow plugin.
HTTP_MAX_WAITING = 32


class _Swapped(Exception):
    """The instance a request waited for was swapped out by a hot reload meanwhile."""


class Requests:
    """Commands and HTTP requests of a PluginRunner, which provides these."""

    name: str
    state: str
    live: LiveInstance | None
    log: PluginLog
    _http_waiting: int
    _polled_ok: bool

    async def call(
        self, thread: InstanceThread, instance: PluginInstance | None, fn: Callable[[], T]
    ) -> T:
        raise NotImplementedError

    # -- commands -------------------------------------------------------------------------

    @property
    def commands(self) -> dict[str, Command]:
        """The commands the live instance answers (empty when it is not running)."""
        return dict(self.live.commands) if self.live is not None else {}

    async def command(self, name: str, arguments: dict[str, ArgValue]) -> dict[str, ArgValue]:
        """Run command `name` in the live instance, under its grants and deadline.

        Raises CommandUnavailable (not an actuator, or not running), CommandRejected (the
        host refused the request: unknown command or argument, wrong kind),
        PluginReportedError (the plugin refused or failed it; it is fine) or PluginFault
        (the command killed the instance; it is restarted as after any fault).
        """
        try:
            return await self._command(name, arguments)
        except _Swapped:  # a new version took over while it waited: ask that one
            return await self._command(name, arguments)

    async def _command(self, name: str, arguments: dict[str, ArgValue]) -> dict[str, ArgValue]:
        live = self.live
        if live is None or live.actuator is None or self.state != "running":
            what = "is not running" if live is None else "answers no commands"
            raise CommandUnavailable(self.name, f"{what} (state {self.state})")
        spec = live.commands.get(name)
        if spec is None:
            known = ", ".join(sorted(live.commands)) or "none"
            raise CommandRejected(self.name, f"unknown command {name!r} (it answers: {known})")
        args = check_arguments(self.name, spec, arguments)
        actuator = live.actuator
        try:
            async with live.turn:
                if live.retired.done():
                    raise _Swapped()
                if live.fault.done() or live is not self.live:
                    raise CommandUnavailable(self.name, "was restarting; try again")
                result = await self.call(
                    live.thread, live.instance, lambda: actuator.invoke(name, args)
                )
        except PluginReportedError as exc:
            self.log.host_says(LogLevel.WARN, f"command {name} failed: {exc.detail}")
            raise
        except PluginFault as exc:
            if not live.fault.done():
                live.fault.set_result(exc)
            raise
        finally:
            self.log.flush()
        self.log.host_says(LogLevel.INFO, f"command {name} done")
        return result

    # -- HTTP -------------------------------------------------------------------------------

    async def handle_http(self, request: HttpRequest) -> HttpResponse:
        """Answer `request` with the live instance's http-handler, in its thread, under its
        deadline. Requests take turns (one Store): at most HTTP_MAX_WAITING wait.

        Raises HttpUnavailable (not an HTTP handler, not running, or too busy: try again
        later), PluginContractError (the plugin answered what the contract forbids; it
        keeps running: the request failed, not the instance) or another PluginFault (the
        request killed the instance; it is restarted as after any fault).
        """
        try:
            return await self._handle_http(request)
        except _Swapped:  # a new version took over while it waited: ask that one
            return await self._handle_http(request)

    async def _handle_http(self, request: HttpRequest) -> HttpResponse:
        live = self.live
        if live is not None and live.http is None:
            raise HttpUnavailable(self.name, "serves no HTTP: it exports no http-handler")
        if live is None or live.http is None or self.state != "running":
            raise HttpUnavailable(self.name, f"is not running (state {self.state})")
        if self._http_waiting >= HTTP_MAX_WAITING:
            raise HttpUnavailable(self.name, f"has {self._http_waiting} requests waiting")
        http = live.http
        self._http_waiting += 1
        try:
            await live.turn.acquire()
        finally:
            self._http_waiting -= 1
        try:
            if live.retired.done():
                raise _Swapped()
            if live.fault.done() or live is not self.live:
                raise HttpUnavailable(self.name, "was restarting; try again")
            response = await self.call(live.thread, live.instance, lambda: http.handle(request))
        except PluginContractError as exc:
            self.log.host_says(
                LogLevel.WARN, f"bad response to {request.method} {request.path}: {exc.detail}"
            )
            raise
        except PluginFault as exc:
            if not live.fault.done():
                live.fault.set_result(exc)
            raise
        finally:
            live.turn.release()
            self.log.flush()
        self._polled_ok = True  # it served: a later fault starts the back-off over
        return response
