"""The node's uplink: everything the node says, to the broker, with nothing lost.

Entered before the node starts and left after it stops, so it sees every event:

    async with Uplink(node, outbox, credentials=...) as uplink:
        async with node:
            ...

Every bus event goes to the on-disk outbox first (all queued events in one transaction).
While connected, the outbox is drained in seq order: batches of up to `batch_max` items of
one kind, QoS 1, a few in flight at once (acks taken in order), and rows are deleted only
after the broker's PUBACK. A batch sent but not acknowledged before a disconnect is sent
again after the reconnect (the hub de-duplicates by (node, seq)).

Beside the telemetry: `status` (retained; online at connect, offline "stop" on exit, and
offline "will" as the last will the broker publishes if the node vanishes), `plugins`
(retained, at connect and after state changes), `state/<plugin>` (retained, the latest
values) and `health` (every `health_interval_s`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Final

import aiomqtt

from harvester import __version__
from harvester.config.secrets import Credentials
from harvester.constants import NATIVE_MONITOR
from harvester.mesh import topics
from harvester.mesh.connection import make_client, reconnecting
from harvester.mesh.health import node_health
from harvester.mesh.outbox import Batch, Outbox
from harvester.mesh.payloads import (
    MetricInfo,
    PluginInfo,
    Plugins,
    PluginState,
    Status,
    encode,
)
from harvester.node import Event, Node, ReadingsEvent, StateEvent, Subscription
from harvester.node.deploy import AcceptedDeploys
from harvester.node.native_monitor import HEALTH_METRICS

log = logging.getLogger("harvester.mesh.uplink")

INFLIGHT: Final = 8  # QoS 1 batches awaiting their PUBACK at once
PLUGINS_DEBOUNCE_S: Final = 0.5  # a burst of state changes makes one `plugins` message
DRAIN_ON_EXIT_S: Final = 2.0  # what is left when the node stops gets this long to go out
BUS_QUEUE: Final = 100_000  # events between two outbox transactions, at most
STORE_CHUNK: Final = 5_000  # events per outbox transaction, at most
_TOPIC: Final[dict[str, Callable[[str], str]]] = {
    "readings": topics.readings,
    "log": topics.log,
    "events": topics.events,
}


class Uplink:
    """An async context manager: stores `node`'s events in `outbox` and sends them, with
    the node's status, plugins, state and health, to the broker of `node.config.mesh`."""

    def __init__(
        self,
        node: Node,
        outbox: Outbox,
        *,
        credentials: Credentials | None,
        deploys: AcceptedDeploys | None = None,
    ) -> None:
        mesh = node.config.mesh
        if mesh is None:
            raise ValueError(f"node {node.config.name!r} has no [mesh] table: no uplink")
        self.node = node
        self.outbox = outbox
        self.name = node.config.name
        self._mesh = mesh
        self._credentials = credentials
        self._deploys = deploys  # names the signed deploy a plugin's version came from
        self.connected = False
        self.published = 0  # items acknowledged by the broker
        self.batches = 0
        self._subscription: Subscription | None = None
        self._stack = contextlib.AsyncExitStack()
        self._store_task: asyncio.Task[None] | None = None
        self._link_task: asyncio.Task[None] | None = None
        self._appended = asyncio.Event()  # wakes the drain
        self._drained = asyncio.Event()  # connected and the outbox is empty
        self._stored = asyncio.Condition()  # notified after every outbox transaction
        self._plugins_changed = asyncio.Event()
        self._states_changed = asyncio.Event()
        self._latest: dict[str, dict[str, float]] = {}  # plugin -> metric -> value
        self._unsent_states: set[str] = set()
        self._native_state = "stopped"
        self._closing = False
        self._close_deadline = 0.0

    # -- waits for tests and for the composition ----------------------------------------------

    async def drained(self) -> None:
        """Until the uplink is connected and the outbox is empty."""
        await self._drained.wait()

    async def wait_outbox(self, predicate: Callable[[int], bool]) -> int:
        """Until `predicate(outbox rows)` holds after an outbox write; returns the rows."""
        async with self._stored:
            await self._stored.wait_for(lambda: predicate(self.outbox.rows))
        return self.outbox.rows

    def stats(self) -> dict[str, float]:
        dropped = self._subscription.dropped if self._subscription is not None else 0
        return {
            **self.outbox.stats(),
            "uplink_connected": float(self.connected),
            "uplink_published_total": float(self.published),
            "uplink_batches_total": float(self.batches),
            "uplink_bus_dropped_total": float(dropped),
        }

    # -- storing ----------------------------------------------------------------------------

    async def _store(self, subscription: Subscription) -> None:
        while True:
            events = [await subscription.get()]
            while len(events) < STORE_CHUNK and not subscription.empty():
                events.append(subscription.get_nowait())
            self._take(events)
            async with self._stored:
                self._stored.notify_all()

    def _take(self, events: list[Event]) -> None:
        try:
            self.outbox.append(events)
        except Exception as exc:  # a full disk, say: the node goes on, the loss is said
            log.error(
                "node %s: %d events (seq %d..%d) could not be stored in outbox %s: %s",
                self.name, len(events), events[0].seq, events[-1].seq, self.outbox.path, exc,
            )  # fmt: skip
        for event in events:
            if isinstance(event, ReadingsEvent):
                latest = self._latest.setdefault(event.plugin, {})
                latest.update((r.metric, r.value) for r in event.readings)
                self._unsent_states.add(event.plugin)
                self._states_changed.set()
            elif isinstance(event, StateEvent):
                if event.plugin == NATIVE_MONITOR:
                    self._native_state = event.state
                self._plugins_changed.set()
        self._drained.clear()
        self._appended.set()

    # -- what is published beside the telemetry ------------------------------------------------

    def _status(self, state: str, reason: str = "") -> bytes:
        version = __version__ if state == "online" else ""
        return encode(
            Status(
                node=self.name, state=state, role=self.node.config.role,  # type: ignore[arg-type]
                at=time.time(), version=version, reason=reason,  # type: ignore[arg-type]
            )
        )  # fmt: skip

    def _plugins(self) -> bytes:
        infos = []
        for runner in self.node.supervisor.runners.values():
            deployed = self._deploys.running(runner.name, runner.version) if self._deploys else None
            infos.append(
                PluginInfo(
                    name=runner.name,
                    version=runner.version,
                    state=runner.state,
                    restarts=runner.restarts,
                    grants=runner.config.grants.model_dump(mode="json"),
                    commands=tuple(sorted(runner.commands)),
                    metrics=tuple(_metric_info(m) for m in runner.metrics),
                    poll_interval_s=runner.config.poll_interval_s,
                    deploy_sequence=deployed.sequence if deployed else None,
                    deploy_key=deployed.key_id if deployed else "",
                )
            )
        native = self.node.config.native
        if native.monitor:
            infos.append(
                PluginInfo(
                    name=NATIVE_MONITOR,
                    version="native",
                    state=self._native_state,  # type: ignore[arg-type]
                    restarts=0,
                    grants={},
                    metrics=tuple(_metric_info(m) for m in HEALTH_METRICS),
                    poll_interval_s=native.monitor_interval_s,
                )
            )
        return encode(Plugins(node=self.name, at=time.time(), plugins=tuple(infos)))

    async def _publish_plugins(self, client: aiomqtt.Client) -> None:
        while True:
            await self._plugins_changed.wait()
            await asyncio.sleep(PLUGINS_DEBOUNCE_S)  # a debounce: let a burst settle
            self._plugins_changed.clear()
            await client.publish(topics.plugins(self.name), self._plugins(), qos=1, retain=True)

    async def _publish_states(self, client: aiomqtt.Client) -> None:
        while True:
            await self._states_changed.wait()
            self._states_changed.clear()
            # Only the latest values go: a fast plugin's older ones are history's business.
            for plugin in sorted(self._unsent_states):
                state = PluginState(
                    node=self.name, plugin=plugin, at=time.time(), values=self._latest[plugin]
                )
                await client.publish(
                    topics.state(self.name, plugin), encode(state), qos=0, retain=True
                )
            self._unsent_states.clear()

    async def _publish_health(self, client: aiomqtt.Client) -> None:
        while True:
            health = await asyncio.to_thread(  # it reads files (sysfs, /proc)
                node_health,
                self.node,
                outbox_rows=self.outbox.rows,
                outbox_dropped=self.outbox.dropped,
            )
            await client.publish(topics.health(self.name), encode(health), qos=0)
            await asyncio.sleep(self._mesh.health_interval_s)  # the period itself

    # -- the telemetry ---------------------------------------------------------------------------

    async def _drain(self, client: aiomqtt.Client) -> None:
        """Send the outbox in seq order, INFLIGHT batches at a time; returns when closing
        and done (or out of time)."""
        config = self.outbox.config
        inflight: deque[tuple[Batch, asyncio.Task[None]]] = deque()
        after = 0  # the highest seq handed to a publish in this session
        try:
            while True:
                lingered = False
                while len(inflight) < INFLIGHT and not self._out_of_time():
                    batch = self.outbox.next_batch(config.batch_max, after=after)
                    if batch is None:
                        break
                    if (
                        len(batch.seqs) < config.batch_max
                        and not inflight
                        and not lingered
                        and config.linger_ms > 0
                        and not self._closing
                    ):
                        # Let a young batch fill: more readings per message.
                        lingered = True
                        await asyncio.sleep(config.linger_ms / 1000)
                        continue
                    publish = client.publish(_TOPIC[batch.kind](self.name), batch.payload, qos=1)
                    inflight.append((batch, asyncio.create_task(publish)))
                    after = batch.seqs[-1]
                if inflight:
                    batch, task = inflight.popleft()
                    await task  # the PUBACK (MqttError if the connection went)
                    self.outbox.ack(batch.seqs)
                    self.published += len(batch.seqs)
                    self.batches += 1
                    continue
                if self._closing:
                    return
                if self.outbox.rows and after:
                    after = 0  # rows below `after` (a seq reused): take them from the start
                    continue
                # Nothing pending, nothing in flight (no await since next_batch said so).
                self._appended.clear()
                if self.outbox.rows == 0:
                    self._drained.set()
                await self._appended.wait()
        finally:
            for _, task in inflight:  # unacknowledged: sent again by the next session
                task.cancel()

    def _out_of_time(self) -> bool:
        return self._closing and time.monotonic() > self._close_deadline

    async def _session(self, client: aiomqtt.Client) -> None:
        await client.publish(topics.status(self.name), self._status("online"), qos=1, retain=True)
        await client.publish(topics.plugins(self.name), self._plugins(), qos=1, retain=True)
        self.connected = True
        self._unsent_states.update(self._latest)
        self._states_changed.set()

        async def watch() -> None:  # raises MqttError when the connection is lost
            async for _ in client.messages:
                pass

        parts: list[Coroutine[Any, Any, None]] = [
            self._drain(client),
            watch(),
            self._publish_plugins(client),
            self._publish_states(client),
            self._publish_health(client),
        ]
        tasks = [asyncio.create_task(part) for part in parts]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if not task.cancelled() and (exc := task.exception()) is not None:
                raise exc
        # The drain returned: the node is stopping. Say goodbye (a clean disconnect
        # follows, so the broker does not publish the will).
        await client.publish(
            topics.status(self.name), self._status("offline", "stop"), qos=1, retain=True
        )

    async def _link(self) -> None:
        def client() -> aiomqtt.Client:
            will = aiomqtt.Will(
                topics.status(self.name), self._status("offline", "will"), qos=1, retain=True
            )
            return make_client(
                self.node.config, client_id=self.name, credentials=self._credentials, will=will
            )

        async with reconnecting(client, what=f"uplink of {self.name}") as sessions:
            async for connected in sessions():
                try:
                    await self._session(connected)
                    return
                except aiomqtt.MqttError as exc:
                    log.warning(
                        "uplink of %s: lost the broker (%s); %d rows wait in the outbox",
                        self.name, exc, self.outbox.rows,
                    )  # fmt: skip
                finally:
                    self.connected = False
                    self._drained.clear()

    # -- entering and leaving ------------------------------------------------------------------

    async def __aenter__(self) -> Uplink:
        # Subscribed at once, before the node starts: no event is missed.
        self._subscription = await self._stack.enter_async_context(
            self.node.bus.subscribe(maxsize=BUS_QUEUE)
        )
        self._store_task = asyncio.create_task(
            self._store(self._subscription), name=f"outbox of {self.name}"
        )
        self._link_task = asyncio.create_task(self._link(), name=f"uplink of {self.name}")
        for task in (self._store_task, self._link_task):
            task.add_done_callback(self._died)
        return self

    def _died(self, task: asyncio.Task[None]) -> None:
        # Either task ends only when the uplink is left; anything else is a bug: said loudly
        # (the outbox still holds every stored row for the next start).
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("%s failed: %r", task.get_name(), exc, exc_info=exc)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._stop()
        finally:
            await self._stack.aclose()
            self.outbox.close()

    async def _stop(self) -> None:
        assert self._store_task is not None and self._link_task is not None
        assert self._subscription is not None
        self._store_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._store_task
        last: list[Event] = []  # the node's last events (its plugins stopping)
        while not self._subscription.empty():
            last.append(self._subscription.get_nowait())
        if last:
            self._take(last)
        self._closing = True
        self._close_deadline = time.monotonic() + DRAIN_ON_EXIT_S
        self._appended.set()
        if not self.connected:
            self._link_task.cancel()  # no broker: the outbox keeps it for the next run
        try:
            async with asyncio.timeout(DRAIN_ON_EXIT_S + 1.0):
                await self._link_task
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # we are cancelled ourselves, not just the link task we cancelled
        if not self._link_task.done():
            self._link_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._link_task
        if self.outbox.rows:
            log.info(
                "uplink of %s stopped with %d rows in the outbox: they go at the next start",
                self.name, self.outbox.rows,
            )  # fmt: skip


def _metric_info(metric: Any) -> MetricInfo:
    return MetricInfo(
        name=metric.name,
        unit=metric.unit,
        device_class=metric.device_class,
        state_class=metric.state_class,
    )
