"""`harvester demo`: the reference cluster on this machine, one process per node.

The hub starts first (its embedded broker, history and web server), the spokes when the
hub's web server answers. Each node is a `harvester run --config ... --cluster ...`
process in a session of its own, so Ctrl-C reaches the demo alone and the demo stops
them in order: spokes first (they say goodbye on the broker), the hub last. Nothing is
left running: a node that does not stop within STOP_WAIT_S is killed, and the hub's
broker child dies with the hub.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from rich.markup import escape

from harvester.cli.ui import console, out
from harvester.config import load_node_config
from harvester.config.cluster import ClusterConfig, ClusterNode, load_cluster_config

STOP_WAIT_S = 15.0
READY_S = 60.0
COLOURS = {"hub": "magenta", "spoke": "cyan"}


class NodeProcess:
    """One node's `harvester run` child, its output copied line by line with its name."""

    def __init__(
        self,
        member: ClusterNode,
        cluster: Path,
        *,
        echo: bool,
        log: Path | None,
        prefix: tuple[str, ...] = (),
    ):
        self.member = member
        self.name = member.name
        command = [
            *prefix, sys.executable, "-m", "harvester", "run",
            "--config", str(member.config), "--cluster", str(cluster),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C is the demo's to hand on, in order
            env=env,
        )
        self._log = log.open("a", encoding="utf-8") if log is not None else None
        self.ready = threading.Event()  # it printed `ready`: its services run
        self._echo = echo
        assert self.process.stdout is not None
        self._reader = threading.Thread(
            target=self._copy, args=(self.process.stdout,), name=f"out-{self.name}", daemon=True
        )
        self._reader.start()

    def _copy(self, stream: IO[bytes]) -> None:
        colour = COLOURS[self.member.role]
        for raw in stream:
            line = raw.decode(errors="replace").rstrip()
            if line == "ready":
                self.ready.set()
            if self._log is not None:
                self._log.write(line + "\n")
                self._log.flush()
            if self._echo:
                out.print(f"[{colour}]{self.name:>7}[/] {escape(line)}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout: float) -> None:
        """Until the node says `ready`; fails early, naming it, if it exits first."""
        until = time.monotonic() + timeout
        while not self.ready.wait(0.1):
            if not self.alive():
                raise RuntimeError(f"{self.name} exited with status {self.process.returncode}")
            if time.monotonic() > until:
                raise TimeoutError(f"{self.name} was not ready within {timeout:g} s")

    def send(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(sig)

    def wait(self, timeout: float) -> bool:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        self._reader.join(2)
        if self._log is not None:
            self._log.close()
            self._log = None
        return True

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stop it (killing it after STOP_WAIT_S); its exit status."""
        if self.alive():
            self.send(sig)
            if not self.wait(STOP_WAIT_S):
                console.print(f"[yellow]{self.name} did not stop in {STOP_WAIT_S:g} s: killed")
                self.send(signal.SIGKILL)
                self.wait(STOP_WAIT_S)
        else:
            self.wait(0)
        return self.process.returncode


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def web_url(cluster: ClusterConfig) -> str:
    hub = load_node_config(cluster.hub.config)
    web = hub.hub_settings.web
    host = "127.0.0.1" if web.host in ("0.0.0.0", "::") else web.host
    return f"http://{host}:{web.port}"


class ClusterProcesses:
    """Every node of a cluster as a child process (the demo, the cluster tests, bench)."""

    def __init__(
        self,
        cluster_file: Path,
        *,
        echo: bool = True,
        log_dir: Path | None = None,
        prefixes: dict[str, tuple[str, ...]] | None = None,
        url: str | None = None,
    ) -> None:
        """`prefixes` puts a node's command behind another (`ip netns exec NS`); `url`
        is where the hub's web server is reached from here, if not where it listens."""
        self.cluster_file = cluster_file.resolve()
        self.prefixes = prefixes or {}
        self.cluster = load_cluster_config(self.cluster_file)
        self.url = url or web_url(self.cluster)
        self.echo = echo
        self.log_dir = log_dir
        self.nodes: dict[str, NodeProcess] = {}

    def check_ports(self) -> None:
        listen = self.cluster.broker.listen
        busy = []
        if self.cluster.broker.kind == "embedded" and not port_free(listen.host, listen.port):
            busy.append(f"the broker's {listen.host}:{listen.port}")
        web = self.url.rsplit(":", 1)
        if not port_free(web[0].removeprefix("http://"), int(web[1])):
            busy.append(f"the web server's {self.url}")
        if busy:
            raise RuntimeError(
                f"in use: {' and '.join(busy)} (another demo or broker running?); stop it, or"
                f" change the ports in {self.cluster_file}"
            )

    def start_node(self, name: str) -> NodeProcess:
        member = self.cluster.node(name)
        log = self.log_dir / f"{name}.log" if self.log_dir is not None else None
        process = NodeProcess(
            member, self.cluster_file, echo=self.echo, log=log, prefix=self.prefixes.get(name, ())
        )
        self.nodes[name] = process
        return process

    def start(self) -> None:
        """The hub, until it is ready (its broker, collector and web server run); then the
        spokes, until each is ready (a Ctrl-C after this stops every node cleanly: all
        have their signal handlers)."""
        self.start_node(self.cluster.hub.name).wait_ready(READY_S)
        spokes = [self.start_node(m.name) for m in self.cluster.nodes if m.role == "spoke"]
        for spoke in spokes:
            spoke.wait_ready(READY_S)

    def stop(self) -> dict[str, int]:
        """Spokes first, then the hub; each one's exit status."""
        order = sorted(self.nodes.values(), key=lambda p: p.member.role == "hub")
        return {p.name: p.stop() for p in order}

    @contextlib.contextmanager
    def running(self) -> Iterator[ClusterProcesses]:
        try:
            self.start()
            yield self
        finally:
            self.stop()


def cmd_demo(args: argparse.Namespace) -> int:
    from harvester.cli.secrets import ensure_secrets

    cluster_file: Path = args.cluster
    demo = ClusterProcesses(cluster_file)
    ensure_secrets(demo.cluster, quiet=True)
    try:
        demo.check_ports()
    except RuntimeError as exc:
        console.print(f"[red]cannot start the demo:[/] {escape(str(exc))}")
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    names = ", ".join(f"{n.name} ({n.role})" for n in demo.cluster.nodes)
    console.print(f"starting the [bold]{demo.cluster.name}[/] cluster: {names}")
    try:
        demo.start()
        listen = demo.cluster.broker.listen
        metrics = ", ".join(
            f"{member.name} :{port}"
            for member in demo.cluster.nodes
            if (port := load_node_config(member.config).metrics.port) is not None
        )
        console.print(
            f"\n[bold green]running.[/] web API {demo.url}/api/nodes  ·  MQTT"
            f" {listen.host}:{listen.port} (harvester/#)  ·  /metrics: hub {demo.url}/metrics"
            + (f", {metrics}" if metrics else "")
            + "\nCtrl-C stops everything\n",
            soft_wrap=True,
        )
        while not stop.wait(0.5):
            for process in demo.nodes.values():
                if not process.alive():
                    console.print(f"[red]{process.name} exited ({process.process.returncode})")
                    stop.set()
    except (RuntimeError, TimeoutError) as exc:
        console.print(f"[red]the demo could not start:[/] {escape(str(exc))}")
        demo.stop()
        return 1
    console.print("stopping: spokes first, then the hub")
    statuses = demo.stop()
    shown = ", ".join(f"{name} {status}" for name, status in statuses.items())
    console.print(f"stopped ({shown}); nothing left running", soft_wrap=True)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="run the reference cluster on this machine")
    demo.add_argument(
        "--cluster", type=Path, required=True, help="the cluster file (examples/cluster.toml)"
    )
    demo.set_defaults(func=cmd_demo)
