"""The node's side of deploys over the mesh: bundles from harvester/<node>/deploy/<plugin>,
checked and installed (harvester/node/deploy), answered on harvester/<node>/deploy-result.

The hub publishes a bundle retained, so a node that was away gets it when it subscribes
again; the hub clears it once answered. The same bundle again (the hub restarted, or
re-sent it) is answered again, not installed twice. An empty payload is the hub clearing
the topic: nothing to do.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any, Final

import aiomqtt

from harvester.config.secrets import Credentials
from harvester.mesh import topics
from harvester.mesh.connection import Background, listen, make_client
from harvester.mesh.payloads import DeployResult, encode
from harvester.node.deploy import BundleError, DeployRefused, Installer, peek

log = logging.getLogger("harvester.mesh.deploys")

PUBLISH_TIMEOUT_S: Final = 10.0


class DeployReceiver(Background):
    """While inside, the node takes deploys from the hub. `ready` is set while subscribed."""

    def __init__(self, installer: Installer, *, credentials: Credentials | None) -> None:
        self.installer = installer
        self.config = installer.config
        self.name = installer.node
        self._credentials = credentials
        self._client: aiomqtt.Client | None = None
        self._running: set[asyncio.Task[None]] = set()
        self.ready = asyncio.Event()
        self.results: list[DeployResult] = []  # every answer given (tests, /metrics)

    def _task_name(self) -> str:
        return f"{self.name}-deploys"

    def stats(self) -> dict[str, float]:
        counts = {"applied": 0, "refused": 0, "failed": 0}
        for r in self.results:
            counts[r.result] += 1
        return {f"deploys_{k}_total": float(v) for k, v in counts.items()}

    async def _serve(self) -> None:
        def factory() -> aiomqtt.Client:
            # A clean session: what the hub holds is retained, so subscribing delivers it.
            return make_client(
                self.config,
                client_id=f"{self.name}-deploy",
                credentials=self._credentials,
                clean_session=True,
            )

        try:
            await listen(
                factory,
                what=f"{self.name} deploys",
                filters=[topics.deploy(self.name, "+")],
                on_message=self._receive,
                ready=self.ready,
                hold=self._hold,
            )
        finally:
            for task in list(self._running):
                task.cancel()

    def _hold(self, client: aiomqtt.Client | None) -> None:
        self._client = client

    def _receive(self, topic: str, payload: object) -> None:
        parsed = topics.parse(topic)
        if parsed is None or parsed.kind != "deploy" or parsed.node != self.name:
            log.warning("%s: dropped a message on %s: not a deploy of this node", self.name, topic)
            return
        if not isinstance(payload, bytes | bytearray) or not payload:
            return  # the hub cleared the topic (or nothing came)
        self._spawn(self._install(parsed.rest, bytes(payload)))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _install(self, plugin: str, raw: bytes) -> None:
        started = time.monotonic()
        try:
            done = await self.installer.install(raw, plugin=plugin)
        except DeployRefused as exc:
            log.error("%s", exc)
            result = DeployResult(
                node=self.name, plugin=exc.plugin or plugin, sequence=_sequence(raw),
                key_id=exc.key_id, result="refused", detail=exc.reason[:4096], at=time.time(),
            )  # fmt: skip
        else:
            m, outcome = done.manifest, done.outcome
            # Applied when what runs now is what was deployed ("unchanged" may also mean
            # "that content was refused before").
            ok = outcome.result == "swapped" or outcome.version == m.version
            log.info(
                "%s: deploy of %s sequence %d (key %s): %s %s in %.2f s",
                self.name, m.plugin, m.sequence, m.key_id, outcome.result,
                outcome.version, time.monotonic() - started,
            )  # fmt: skip
            result = DeployResult(
                node=self.name, plugin=m.plugin, sequence=m.sequence, key_id=m.key_id,
                result="applied" if ok else "failed",
                version=m.version if ok else outcome.version,
                previous=outcome.previous, detail=outcome.detail[:4096],
                repeated=done.repeated, at=time.time(),
            )  # fmt: skip
        self.results.append(result)
        await self._publish(result)

    async def _publish(self, result: DeployResult) -> None:
        client = self._client
        if client is None:  # the bundle stays retained: the next delivery answers again
            log.warning("%s: no connection to answer deploy %d", self.name, result.sequence)
            return
        try:
            await client.publish(
                topics.deploy_result(self.name), encode(result), qos=1, timeout=PUBLISH_TIMEOUT_S
            )
        except aiomqtt.MqttError as exc:
            log.warning("%s: answer to deploy %d not sent: %s", self.name, result.sequence, exc)


def _sequence(raw: bytes) -> int:
    """The sequence a refused bundle claimed, if it can be read (0: it cannot)."""
    try:
        return peek(raw).sequence
    except BundleError:
        return 0
