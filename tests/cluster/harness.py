"""A reference cluster for tests: the examples' three nodes, written into a temporary
folder with free loopback ports, this test run's plugin builds and its own state."""

from __future__ import annotations

import json
import re
import sqlite3
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from harvester.cli.demo import ClusterProcesses
from harvester.cli.secrets import ensure_secrets
from harvester.config.cluster import ClusterConfig, load_cluster_config
from harvester.config.secrets import load_credentials, load_token
from tests.cluster import netns
from tests.conftest import ARTIFACTS, ROOT
from tests.mesh.brokers import free_port

T = TypeVar("T")
EXAMPLES = ROOT / "examples"


@dataclass
class ClusterFiles:
    folder: Path
    cluster_file: Path
    broker_port: int
    web_port: int
    metrics_ports: dict[str, int]

    @property
    def cluster(self) -> ClusterConfig:
        return load_cluster_config(self.cluster_file)

    def state(self, node: str) -> Path:
        return self.folder / "state" / node

    def token(self) -> str:
        return load_token(self.cluster.token_file)

    def credentials(self, node: str) -> tuple[str, str]:
        c = load_credentials(self.cluster.credentials_file(node))
        return c.username, c.password

    # Read from the nodes' files while they run (read-only; WAL lets readers in).

    def _read(self, path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
            return db.execute(sql, params).fetchall()

    def outbox(self, node: str) -> tuple[int, int, int]:
        """(rows waiting, the next seq the node will use, rows dropped) of its outbox."""
        path = self.state(node) / "outbox.sqlite"
        rows = self._read(path, "SELECT count(*) FROM outbox")[0][0]
        meta = dict(self._read(path, "SELECT key, value FROM meta"))
        return int(rows), int(meta.get("next_seq", 1)), int(meta.get("dropped", 0))

    def stored_seqs(self, node: str) -> list[int]:
        """Every seq of `node` the hub's history took in, ascending (its de-duplication
        table)."""
        rows = self._read(
            self.state("revpi") / "history.sqlite",
            "SELECT seq FROM seen WHERE node = ? ORDER BY seq",
            (node,),
        )
        return [seq for (seq,) in rows]


def _node_file(
    source: Path, target: Path, *, plugin_dir: Path, state: Path, poll_s: float | None,
    extra: str,
) -> None:  # fmt: skip
    text = source.read_text(encoding="utf-8")
    # The test sets the node's /metrics itself (a free port), in place of the example's.
    text = re.sub(r"(?ms)^\[metrics\].*?(?=^\[|\Z)", "", text)
    text = re.sub(r"(?m)^plugin_dir = .*$", f'plugin_dir = "{plugin_dir}"', text)
    text = re.sub(r"(?m)^cache_dir = .*$", f'cache_dir = "{ARTIFACTS}"', text)
    text = re.sub(r"(?m)^state_dir = .*$", f'state_dir = "{state}"', text)
    if poll_s is not None:
        text = re.sub(r"(?m)^poll_interval_s = [0-9.]+", f"poll_interval_s = {poll_s}", text)
        text = re.sub(r"(?m)^monitor_interval_s = [0-9.]+", f"monitor_interval_s = {poll_s}", text)
    target.write_text(text + "\n" + extra, encoding="utf-8")


def write_cluster(
    folder: Path,
    *,
    plugin_dir: Path,
    kind: str = "embedded",
    listen_host: str = "127.0.0.1",
    addresses: dict[str, str] | None = None,
    web_host: str = "127.0.0.1",
    poll_s: float | None = None,
    mesh: str = "",
) -> ClusterFiles:
    """The reference cluster in `folder`; `mesh` is extra [mesh] keys for every node."""
    folder.mkdir(parents=True, exist_ok=True)
    broker_port, web_port = free_port(), free_port()
    metrics = {name: free_port() for name in ("revpi", "pi4", "pizero")}
    addresses = addresses or {}
    nodes = ""
    for name, role in (("revpi", "hub"), ("pi4", "spoke"), ("pizero", "spoke")):
        extra = f'[metrics]\nhost = "{web_host}"\nport = {metrics[name]}\n'
        if mesh:
            extra += f"[mesh]\n{mesh}\n"
        if role == "hub":
            extra += f'[hub.web]\nhost = "{web_host}"\nport = {web_port}\n'
        _node_file(
            EXAMPLES / f"{name}.toml", folder / f"{name}.toml", plugin_dir=plugin_dir,
            state=folder / "state", poll_s=poll_s, extra=extra,
        )  # fmt: skip
        address = f'address = "{addresses[name]}"\n' if name in addresses else ""
        nodes += f'[[nodes]]\nname = "{name}"\nrole = "{role}"\nconfig = "{name}.toml"\n{address}'
    cluster_file = folder / "cluster.toml"
    cluster_file.write_text(
        f'[cluster]\nname = "test"\nsecrets_dir = "secrets"\n'
        f'[broker]\nkind = "{kind}"\nlisten = {{ host = "{listen_host}", port = {broker_port} }}\n'
        f"{nodes}",
        encoding="utf-8",
    )
    return ClusterFiles(folder, cluster_file, broker_port, web_port, metrics)


def wait_until(check: Callable[[], T | None], *, timeout: float, what: str) -> T:
    """Until `check()` returns something other than None or False (another process's state,
    read over HTTP or from its files: there is no event to await across processes)."""
    until = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < until:
        try:
            value = check()
        except (OSError, KeyError, ValueError) as exc:
            last, value = exc, None
        if value is not None and value is not False:
            return value
        time.sleep(0.2)
    raise TimeoutError(
        f"{what}: not within {timeout:g} s" + (f" (last error: {last})" if last else "")
    )


class Api:
    """The hub's JSON API, as a client would call it."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base
        self.token = token

    def call(
        self, method: str, path: str, body: Any = None, *, token: str | None = None
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return reply.status, json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def get(self, path: str) -> Any:
        status, body = self.call("GET", path)
        if status != 200:
            raise ValueError(f"GET {path}: {status} {body}")
        return body

    def node(self, name: str) -> dict[str, Any] | None:
        return next((n for n in self.get("/api/nodes")["nodes"] if n["name"] == name), None)

    def latest(self, name: str) -> dict[tuple[str, str], float]:
        rows = self.get(f"/api/nodes/{name}/latest")["latest"]
        return {(r["plugin"], r["metric"]): r["value"] for r in rows}

    def command(self, node: str, command: str, args: dict[str, Any]) -> tuple[int, Any]:
        body = {"command": command, "args": args}
        return self.call("POST", f"/api/nodes/{node}/commands", body, token=self.token)


def scrape(port: int, host: str = "127.0.0.1") -> dict[str, float]:
    """A node's /metrics as {'name{labels}': value}."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out


@contextmanager
def running_cluster(files: ClusterFiles) -> Iterator[ClusterProcesses]:
    """Every node of `files` as a process of its own (its secrets made first, if missing),
    stopped on leaving; the nodes' output goes to `<folder>/<node>.log`."""
    ensure_secrets(files.cluster, quiet=True)
    processes = ClusterProcesses(files.cluster_file, echo=False, log_dir=files.folder)
    with processes.running():
        yield processes


@contextmanager
def lan_or_loopback(nodes: tuple[str, ...], without: str) -> Iterator[netns.Lan | None]:
    """A network namespace per node (netns.Lan), or None where they cannot be made (not
    root, no iproute2): then the test runs on loopback and says so, in its output and as
    a warning; `without` says what the test does instead."""
    reason = netns.why_not()
    if reason is not None:
        warnings.warn(f"network namespaces unavailable ({reason}): {without}", stacklevel=3)
        print(f"\nnetwork namespaces unavailable ({reason}): {without}")
        yield None
        return
    with netns.Lan(nodes) as made:
        yield made


@contextmanager
def cluster_on(
    lan: netns.Lan | None, folder: Path, *, plugin_dir: Path, poll_s: float
) -> Iterator[tuple[ClusterFiles, ClusterProcesses]]:
    """The reference cluster written into `folder` and running: each node in its own
    namespace of `lan`, the hub listening on the LAN; on loopback without one."""
    if lan is None:
        files = write_cluster(folder, plugin_dir=plugin_dir, poll_s=poll_s)
        processes = ClusterProcesses(files.cluster_file, echo=False, log_dir=folder)
    else:
        files = write_cluster(
            folder, plugin_dir=plugin_dir, poll_s=poll_s, listen_host="0.0.0.0",
            web_host="0.0.0.0", addresses={node: lan.address(node) for node in lan.nodes},
        )  # fmt: skip
        processes = ClusterProcesses(
            files.cluster_file, echo=False, log_dir=folder,
            prefixes={node: lan.prefix(node) for node in lan.nodes},
            url=f"http://{lan.address('revpi')}:{files.web_port}",
        )  # fmt: skip
    ensure_secrets(files.cluster, quiet=True)  # with the deploy key and its trust
    with processes.running():
        yield files, processes
