"""The embedded broker: amqtt in a child process the hub starts, so one machine needs
nothing installed and the broker's work never slows the hub's own loop.

    async with EmbeddedBrokerProcess(config.hub_settings, config.state_dir / config.name):
        ...  # the broker accepts connections here; it is stopped on exit

The child (child.py: `python -m harvester.mesh.broker.child --host H --port P ...`)
prints one READY line once it listens, logs to `<state_dir>/embedded-broker.log`, keeps
retained messages in `<state_dir>/embedded-broker-retained.sqlite`, stops on
SIGTERM, and dies with its parent (PR_SET_PDEATHSIG), so a killed hub leaves no broker.
With `[hub.embedded] cluster` it enforces the cluster's users and ACL (amqtt_plugins.py);
without one it accepts anonymous clients (meant for loopback).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import signal
import sys
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import psutil  # type: ignore[import-untyped]  # ships no type information

from harvester.config.mesh import HubConfig

CHILD_MODULE: Final = "harvester.mesh.broker.child"
# The child's stdout line once it listens, and its exit status when the port is taken.
READY: Final = "READY"
START_TIMEOUT_S: Final = 20.0
STOP_TIMEOUT_S: Final = 5.0
PR_SET_PDEATHSIG: Final = 1
EXIT_PORT_TAKEN: Final = 3
LOG_NAME: Final = "embedded-broker.log"
RETAINED_NAME: Final = "embedded-broker-retained.sqlite"

log = logging.getLogger("harvester.mesh.broker")


class EmbeddedBrokerError(Exception):
    """The embedded broker did not start (port taken, bad cluster file, timeout); the
    message names host:port and carries the child's last log lines."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """In the child before exec: SIGTERM when the parent dies (Linux); elsewhere a no-op.
    The kernel ties it to the forking *thread*: start the broker from the thread that runs
    the hub's loop for its whole life (the main thread under asyncio.run)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def child_argv(hub: HubConfig, state_dir: Path) -> list[str]:
    embedded = hub.embedded
    argv = [
        sys.executable,
        "-m",
        CHILD_MODULE,
        "--host",
        embedded.host,
        "--port",
        str(embedded.port),
    ]
    argv += ["--retained", str(state_dir / RETAINED_NAME)]
    if embedded.cluster is not None:
        argv += ["--cluster", str(embedded.cluster), "--discovery-prefix", hub.discovery_prefix]
    return argv


class EmbeddedBrokerProcess:
    """Starts the broker child on enter (returns once it accepts connections), stops it on
    exit (SIGTERM, then kill). Raises EmbeddedBrokerError if it cannot start."""

    def __init__(
        self, hub_config: HubConfig, state_dir: Path, *, timeout: float = START_TIMEOUT_S
    ) -> None:
        self.hub = hub_config
        self.state_dir = state_dir
        self.timeout = timeout
        self.log_path = state_dir / LOG_NAME
        self.process: asyncio.subprocess.Process | None = None

    @property
    def where(self) -> str:
        return f"{self.hub.embedded.host}:{self.hub.embedded.port}"

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def __aenter__(self) -> Self:
        embedded = self.hub.embedded
        if embedded.cluster is None and embedded.host not in ("127.0.0.1", "::1", "localhost"):
            log.warning(
                "embedded broker on %s accepts anonymous clients from the network: set"
                " [hub.embedded] cluster to enforce the nodes' users and ACL",
                self.where,
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as child_log:
            self.process = await asyncio.create_subprocess_exec(
                *child_argv(self.hub, self.state_dir),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=child_log,
                preexec_fn=_die_with_parent,
            )
        try:
            await self._wait_ready()
        except BaseException:  # a failed or cancelled start leaves no child behind
            await self._stop()
            raise
        log.info("embedded broker listening on %s (pid %s)", self.where, self.pid)
        return self

    async def _wait_ready(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), self.timeout)
        except TimeoutError:
            raise EmbeddedBrokerError(
                f"embedded broker on {self.where} did not start within {self.timeout} s:\n"
                f"{self._log_tail()}"
            ) from None
        if not line.startswith(READY.encode()):
            code = await self.process.wait()
            why = "the port is taken" if code == EXIT_PORT_TAKEN else f"exit status {code}"
            raise EmbeddedBrokerError(
                f"embedded broker on {self.where} did not start ({why}):\n{self._log_tail()}"
            )

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stop()

    async def _stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):  # it died on its own meanwhile
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("embedded broker on %s ignored SIGTERM; killing it", self.where)
            process.kill()
            await process.wait()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def stats(self) -> dict[str, float]:
        """For /metrics: is the child up, and its resident memory."""
        process = self.process
        if process is None or process.returncode is not None:
            return {"embedded_broker_up": 0.0}
        try:
            rss = float(psutil.Process(process.pid).memory_info().rss)
        except psutil.Error:
            return {"embedded_broker_up": 0.0}
        return {"embedded_broker_up": 1.0, "embedded_broker_rss_bytes": rss}
