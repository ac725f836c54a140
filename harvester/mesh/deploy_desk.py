"""The hub's side of deploys: it takes signed bundles (from the API), keeps them on its
disk, holds each for its node as a retained message, and records the node's answer.

    submit(node, bundle)  -> kept in <state_dir>/deploys/, published retained (QoS 1) on
                             harvester/<node>/deploy/<plugin>: pending
    deploy-result         -> applied / refused / failed; the retained message is cleared

A node that is offline gets the bundle when it connects again (the broker holds it); the
hub publishes every pending bundle again each time it connects itself, so a broker that
lost its retained messages (one without persistence, a reinstalled hub) still delivers
them. The hub relays, it does not judge: the node checks the signature against its own
trusted keys. A newer deploy of the same plugin to the same node supersedes an older one
still pending.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Final, Literal

import aiomqtt

from harvester.config import NodeConfig
from harvester.config.secrets import Credentials
from harvester.mesh import topics
from harvester.mesh.connection import Background, make_client, reconnecting
from harvester.mesh.hub_queries import PendingDeploy
from harvester.mesh.payloads import DeployResult, PayloadError, decode
from harvester.node.deploy import Manifest, peek
from harvester.runtime.files import write_atomically

log = logging.getLogger("harvester.mesh.deploys")

# A bundle is ~6.5 MB (a ~18.5 MB component, compressed); at ~1 MB/s on a slow link that
# is several seconds, and the broker must take it whole.
PUBLISH_TIMEOUT_S: Final = 120.0
INDEX_NAME: Final = "index.json"
KEEP_ANSWERED: Final = 200  # answered deploys kept in the list (their bundles are deleted)
DeployStateName = Literal["pending", "applied", "refused", "failed", "superseded"]


@dataclass(frozen=True)
class DeployEntry:
    """One deploy as the hub knows it (GET /api/deploys lists these)."""

    node: str
    plugin: str
    component: str
    world: str
    sequence: int
    key_id: str
    sha256: str
    size: int  # the component's bytes
    bundle_bytes: int  # what travels
    state: DeployStateName
    submitted_at: float
    answered_at: float | None = None
    version: str = ""  # what runs on the node after its answer
    detail: str = ""

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.node, self.plugin, self.sequence)


class UnknownNode(LookupError):
    """A deploy for a node that has never reported to this hub (a typo, most likely)."""


class DeployDesk(Background):
    """An async context manager on the hub: takes deploys and their answers while inside.

    `changed` is notified (as a Condition) after every change of the list."""

    def __init__(
        self,
        config: NodeConfig,
        *,
        credentials: Credentials | None,
        folder: Path,
        known: Callable[[str], bool] = lambda node: True,
    ) -> None:
        self.config = config
        self.name = config.name
        self.folder = folder
        self._credentials = credentials
        self._known = known
        self._client: aiomqtt.Client | None = None
        self._lock = threading.Lock()  # the index is written from worker threads too
        self._entries: list[DeployEntry] = []
        self.connected = asyncio.Event()
        self.changed = asyncio.Condition()
        self._publishing: set[asyncio.Task[None]] = set()
        folder.mkdir(parents=True, exist_ok=True)
        self._load()

    def _task_name(self) -> str:
        return f"{self.name}-deploy-desk"

    # -- the durable list ---------------------------------------------------------------

    def _load(self) -> None:
        path = self.folder / INDEX_NAME
        try:
            raw = json.loads(path.read_bytes())
            self._entries = [DeployEntry(**e) for e in raw["deploys"]]
        except FileNotFoundError:
            self._entries = []
        except (ValueError, KeyError, TypeError) as exc:
            # The bundles are still on disk; an operator deploys again. Say it loudly.
            log.error("%s: the deploy list is unreadable (%s); starting an empty one", path, exc)
            self._entries = []

    def _save(self) -> None:
        answered = [e for e in self._entries if e.state != "pending"]
        drop = {id(e) for e in answered[: max(0, len(answered) - KEEP_ANSWERED)]}
        self._entries = [e for e in self._entries if id(e) not in drop]
        body = {"deploys": [asdict(e) for e in self._entries]}
        write_atomically(self.folder / INDEX_NAME, json.dumps(body, indent=1).encode())

    def _bundle_path(self, entry: DeployEntry) -> Path:
        return self.folder / f"{entry.node}.{entry.plugin}.{entry.sequence}.bundle"

    def entries(self, node: str | None = None) -> list[DeployEntry]:
        """Newest first."""
        found = [e for e in self._entries if node is None or e.node == node]
        return sorted(found, key=lambda e: e.submitted_at, reverse=True)

    def pending(self, node: str) -> list[PendingDeploy]:
        """What the hub holds for `node` now, oldest first (the node detail shows it)."""
        held = sorted((e for e in self.entries(node) if e.state == "pending"),
                      key=lambda e: e.submitted_at)  # fmt: skip
        return [
            PendingDeploy(
                plugin=e.plugin,
                sequence=e.sequence,
                version=e.sha256[:16],
                key_id=e.key_id,
                submitted_at=e.submitted_at,
            )
            for e in held
        ]

    def stats(self) -> dict[str, float]:
        pending = sum(1 for e in self._entries if e.state == "pending")
        return {"deploys_pending": float(pending)}

    # -- taking a deploy ----------------------------------------------------------------

    def _store(self, node: str, raw: bytes, manifest: Manifest) -> DeployEntry:
        """Write the bundle and its entry (a worker thread: fsync of megabytes)."""
        entry = DeployEntry(
            node=node, plugin=manifest.plugin, component=manifest.component,
            world=manifest.world, sequence=manifest.sequence, key_id=manifest.key_id,
            sha256=manifest.sha256, size=manifest.size, bundle_bytes=len(raw),
            state="pending", submitted_at=time.time(),
        )  # fmt: skip
        with self._lock:
            write_atomically(self._bundle_path(entry), raw)
            updated = []
            for e in self._entries:
                if e.key == entry.key:
                    continue  # the same deploy again: the new entry replaces it
                if e.state == "pending" and (e.node, e.plugin) == (node, entry.plugin):
                    self._bundle_path(e).unlink(missing_ok=True)
                    e = replace(e, state="superseded", answered_at=time.time(),
                                detail=f"replaced by sequence {entry.sequence}")  # fmt: skip
                updated.append(e)
            self._entries = [*updated, entry]
            self._save()
        return entry

    async def submit(self, node: str, raw: bytes) -> DeployEntry:
        """Keep `raw` (a bundle) for `node` and publish it. Raises BundleError if `raw` is
        not a bundle (its manifest is read, its signature is the node's to check),
        UnknownNode for a node that never reported."""
        manifest = peek(raw)
        if not self._known(node):
            raise UnknownNode(f"node: no node {node!r} has reported to this hub")
        entry = await asyncio.to_thread(self._store, node, raw, manifest)
        log.info(
            "deploy of %s to %s (sequence %d, key %s, %d bytes): pending",
            entry.plugin, node, entry.sequence, entry.key_id, len(raw),
        )  # fmt: skip
        await self._notify()
        client = self._client
        if client is not None:  # else: published when the hub connects
            task = asyncio.create_task(self._publish(client, entry, raw))
            self._publishing.add(task)
            task.add_done_callback(self._publishing.discard)
        return entry

    async def _publish(self, client: aiomqtt.Client, entry: DeployEntry, raw: bytes) -> None:
        try:
            await client.publish(
                topics.deploy(entry.node, entry.plugin), raw, qos=1, retain=True,
                timeout=PUBLISH_TIMEOUT_S,
            )  # fmt: skip
        except aiomqtt.MqttError as exc:  # published again on the next connection
            log.warning("deploy of %s to %s not published yet: %s", entry.plugin, entry.node, exc)

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    # -- the connection and the answers ---------------------------------------------------

    async def _serve(self) -> None:
        def factory() -> aiomqtt.Client:
            # A clean session: an answer given while the hub was away is not queued for it;
            # the hub publishes every pending bundle again when it connects, and the node
            # answers again. (amqtt's persistent sessions live in memory and, on a quick
            # reconnect under the same id, lost the answers: the resend does not depend
            # on them.)
            return make_client(
                self.config, client_id=f"{self.name}-deploys",
                credentials=self._credentials, clean_session=True,
            )  # fmt: skip

        async with reconnecting(factory, what=f"{self.name} deploys") as sessions:
            async for client in sessions():
                try:
                    await client.subscribe(topics.every_node("deploy-result"), qos=1)
                    self._client = client
                    self.connected.set()
                    await self._publish_pending(client)
                    async for message in client.messages:
                        await self._answer(client, message.topic.value, message.payload)
                except aiomqtt.MqttError:
                    continue
                finally:
                    self._client = None
                    self.connected.clear()

    async def _publish_pending(self, client: aiomqtt.Client) -> None:
        for entry in [e for e in self._entries if e.state == "pending"]:
            try:
                raw = await asyncio.to_thread(self._bundle_path(entry).read_bytes)
            except OSError as exc:
                log.error("deploy of %s to %s: bundle lost: %s", entry.plugin, entry.node, exc)
                continue
            await self._publish(client, entry, raw)

    async def _answer(self, client: aiomqtt.Client, topic: str, payload: object) -> None:
        parsed = topics.parse(topic)
        if parsed is None or parsed.kind != "deploy-result" or not isinstance(payload, bytes):
            log.warning("dropped a message on %s: not a deploy result", topic)
            return
        try:
            result = decode(DeployResult, payload)
        except PayloadError as exc:
            log.warning("dropped a deploy result from %s: %s", parsed.node, exc)
            return
        if result.node != parsed.node:
            log.warning("dropped a deploy result on %s naming node %s", topic, result.node)
            return
        key = (result.node, result.plugin, result.sequence)
        entry = next((e for e in self._entries if e.key == key), None)
        if entry is None:
            log.info("deploy result for an unknown deploy %s: %s", key, result.result)
            return
        if entry.state == "pending":
            done = replace(
                entry, state=result.result, answered_at=result.at,
                version=result.version, detail=result.detail,
            )  # fmt: skip
            await asyncio.to_thread(self._answered, done)
            log.info(
                "deploy of %s to %s (sequence %d): %s %s", entry.plugin, entry.node,
                entry.sequence, result.result, result.detail,
            )  # fmt: skip
            await self._notify()
        if not any(e.state == "pending" and (e.node, e.plugin) == key[:2] for e in self._entries):
            # Nothing newer waits for that plugin: clear the held bundle (an empty retained
            # message removes it, MQTT 3.3.1-10).
            await client.publish(topics.deploy(result.node, result.plugin), b"", qos=1, retain=True)

    def _answered(self, done: DeployEntry) -> None:
        with self._lock:
            self._entries = [done if e.key == done.key else e for e in self._entries]
            self._bundle_path(done).unlink(missing_ok=True)
            self._save()
