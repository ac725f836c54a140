"""The hub's collector: every node's status, health, telemetry and plugins, from the broker
into history (harvester/mesh/history.py).

Nothing lost: a QoS 1 message is acknowledged to the broker only after it is committed to
history (paho-mqtt with `manual_ack`; aiomqtt cannot hold back an acknowledgement). The
session is persistent (fixed client id, clean_session=False), so the broker keeps what
arrives while the hub is down, and redelivers what was received but not acknowledged when
the hub died mid-ingest; history's (node, seq) de-duplication makes that exactly once.

Threads: paho's network loop runs in its own thread and only queues messages; one writer
thread takes them in arrival order, a handful at a time, decodes, stores, commits, then
acknowledges them in that order (MQTT wants PUBACKs in the order the PUBLISHes came).
Bad input is logged with topic, node and reason, counted, acknowledged and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from harvester.config import NodeConfig
from harvester.config.secrets import Credentials
from harvester.mesh import payloads, topics
from harvester.mesh.history import History, NodeRow

# What was just committed, for the hub's live feed: (type, data) pairs (harvester/mesh/live.py).
LiveItems = list[tuple[str, dict[str, Any]]]

log = logging.getLogger("harvester.mesh.collector")

KINDS: Final = ("status", "health", "readings", "log", "events", "plugins")
GROUP_MAX: Final = 64  # messages per transaction at most (the broker sends ~20 unacked)
RETRY_MAX_S: Final = 10.0


@dataclass(frozen=True)
class _Message:
    topic: str
    payload: bytes
    mid: int
    qos: int
    retain: bool
    session: int  # which connection it came on: an ack on a later one would be wrong
    received: float


class Collector:
    """`async with Collector(config, history, credentials=...) as collector:` connects
    (and keeps reconnecting) and files messages until the block ends."""

    def __init__(
        self,
        config: NodeConfig,
        history: History,
        *,
        credentials: Credentials | None,
        silent_after_s: float | None = None,
        on_stored: Callable[[LiveItems], None] | None = None,
    ) -> None:
        assert config.mesh is not None, "the collector needs a [mesh] table"
        self.config = config
        self.history = history
        self.client_id = f"{config.name}-collector"
        # A node that says nothing for this long is shown offline even before the broker
        # publishes its will. Three keep-alives, but never less than two health intervals:
        # a quiet spoke sends only its health, and must not flap offline between reports.
        mesh = config.mesh
        self.silent_after_s = silent_after_s or max(
            3 * mesh.keepalive_s, 2 * mesh.health_interval_s
        )
        self._credentials = credentials
        # Called in the writer thread after each commit with what was new in it (never
        # twice for one item: a redelivery stores nothing, so it is not news).
        self._on_stored = on_stored
        self._inbox: queue.Queue[_Message | None] = queue.Queue()
        self._stop = threading.Event()
        self._ack_lock = threading.Lock()  # session number vs. acks (network thread)
        self._session = 0
        self._connected = False
        self._counters: Counter[str] = Counter(
            {n: 0 for n in ("ingest_messages_total", "ingest_transactions_total",
                            "ingest_store_errors_total")}
        )  # fmt: skip
        self._dropped: Counter[str] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = asyncio.Event()
        self.subscribed = asyncio.Event()  # set on every SUBACK, cleared on a disconnect
        self._client = self._make_client()
        self._writer: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        mesh = self.config.mesh
        assert mesh is not None
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        client.enable_logger(logging.getLogger(f"harvester.mesh.mqtt.{self.client_id}"))
        if self._credentials is not None:
            client.username_pw_set(self._credentials.username, self._credentials.password)
        if mesh.tls is not None:
            client.tls_set(
                ca_certs=str(mesh.tls.ca_file),
                certfile=str(mesh.tls.cert_file) if mesh.tls.cert_file else None,
                keyfile=str(mesh.tls.key_file) if mesh.tls.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        client.reconnect_delay_set(min_delay=1, max_delay=int(RETRY_MAX_S))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    async def __aenter__(self) -> Collector:
        self._loop = asyncio.get_running_loop()
        broker = self.config.broker
        assert self.config.mesh is not None
        self._writer = threading.Thread(target=self._write_loop, name="collector", daemon=True)
        self._writer.start()
        # connect_async: the loop thread connects, and reconnects, on its own; a broker
        # that is down at start is not an error.
        self._client.connect_async(broker.host, broker.port, keepalive=self.config.mesh.keepalive_s)
        self._client.loop_start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # The writer finishes (commits and acks) the group it holds; whatever is still
        # queued is not acknowledged, so the broker redelivers it to the next collector.
        self._stop.set()
        self._inbox.put(None)
        if self._writer is not None:
            await asyncio.to_thread(self._writer.join)
        # paho logs an ERROR from its loop when the socket it just closed is gone; that is
        # our own shutdown, not news.
        self._client.disable_logger()
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)

    # -- paho callbacks (network thread) -------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object
    ) -> None:
        if rc.is_failure:
            log.warning("collector: the broker refused the connection: %s", rc)
            return
        with self._ack_lock:
            self._session += 1
            self._connected = True
        log.info("collector: connected to %s:%s", self.config.broker.host, self.config.broker.port)
        client.subscribe([(topics.every_node(kind), 1) for kind in KINDS])

    def _on_disconnect(self, _c: object, _u: object, _f: object, rc: object, _p: object) -> None:
        with self._ack_lock:
            self._session += 1
            self._connected = False
        if not self._stop.is_set():
            log.warning("collector: connection to the broker lost (%s); reconnecting", rc)
        self._notify(lambda: self.subscribed.clear())

    def _on_subscribe(
        self, _c: object, _u: object, _mid: int, codes: list[ReasonCode], _p: object
    ) -> None:
        failed = [c for c in codes if c.is_failure]
        if failed:
            log.error("collector: the broker refused subscriptions: %s", failed)
        self._notify(lambda: self.subscribed.set())

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        self._inbox.put(
            _Message(
                msg.topic,
                bytes(msg.payload),
                msg.mid,
                msg.qos,
                msg.retain,
                self._session,
                time.time(),
            )
        )

    # -- the writer thread ---------------------------------------------------------------

    def _write_loop(self) -> None:
        assert self.config.hub_settings is not None
        interval = self.config.hub_settings.history.maintenance_interval_s
        next_maintenance = time.monotonic() + interval
        while not self._stop.is_set():
            try:
                first = self._inbox.get(timeout=max(0.0, next_maintenance - time.monotonic()))
            except queue.Empty:
                first = None
            group = [] if first is None else [first]
            while len(group) < GROUP_MAX:
                try:
                    more = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if more is not None:
                    group.append(more)
            if group:
                self._commit(group)
            if time.monotonic() >= next_maintenance and not self._stop.is_set():
                self._maintain()
                next_maintenance = time.monotonic() + interval

    def _commit(self, group: list[_Message]) -> None:
        """Store the group in one transaction, then acknowledge it. A storage error (disk
        full, ...) is retried, in order, until it succeeds or the collector stops: a message
        is never acknowledged without being stored."""
        delay = 0.5
        while True:
            drops: list[tuple[_Message, str, str, str]] = []
            stored: LiveItems = []
            try:
                with self.history.transaction():
                    for message in group:
                        drop = self._file(message, stored)
                        if drop is not None:
                            drops.append((message, *drop))
                break
            except Exception as exc:  # sqlite3 errors, and any bug: never ack unstored
                self._counters["ingest_store_errors_total"] += 1
                log.error("collector: storing %d messages failed: %s; retrying", len(group), exc)
                self._notify(self._bump)
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, RETRY_MAX_S)
        for dropped in drops:  # reported once the group is done, not once per attempt
            self._drop(*dropped)
        if stored and self._on_stored is not None:
            try:
                self._on_stored(stored)
            except Exception:  # the live view is a nicety; ingest must go on
                log.exception("collector: the live feed failed")
        self._counters["ingest_messages_total"] += len(group)
        self._counters["ingest_transactions_total"] += 1
        with self._ack_lock:
            for message in group:
                if message.qos > 0 and message.session == self._session and self._connected:
                    self._client.ack(message.mid, message.qos)
        self._notify(self._bump)

    def _file(self, message: _Message, stored: LiveItems) -> tuple[str, str, str] | None:
        """Store one message (what was new in it appended to `stored`); or why it is
        dropped: (node, reason, detail)."""
        topic = topics.parse(message.topic)
        if topic is None or topic.kind not in KINDS:
            return (topic.node if topic else "?", "unknown-topic", "not a topic we read")
        model = payloads.MODELS[topic.kind]
        try:
            payload = payloads.decode(model, message.payload)
        except payloads.PayloadError as exc:
            return (topic.node, _reason(str(exc)), str(exc))
        sender = getattr(payload, "node", None)
        if sender != topic.node:
            return (topic.node, "node-mismatch", f"the payload says node {sender!r}")
        history = self.history
        if isinstance(payload, payloads.Status):
            history.record_status(payload)
            stored.append(live_status(payload))
        elif isinstance(payload, payloads.Health):
            if history.record_health(payload):
                stored.append(("health", {"node": payload.node, "at": payload.at,
                                          "metrics": payload.metrics}))  # fmt: skip
        elif isinstance(payload, payloads.Plugins):
            if history.record_plugins(payload):
                stored.append(
                    ("plugins", payload.model_dump(mode="json", include={"node", "plugins"}))
                )
        elif isinstance(payload, payloads.ReadingsBatch | payloads.LogBatch | payloads.EventsBatch):
            # Stamped when filed (inside the transaction that commits it), not when the
            # message arrived: the time it entered history, which is what latency means.
            fresh = history.ingest_fresh(topic.node, payload, received=time.time())
            stored.extend(live_items(payload, fresh))
        if not message.retain:  # a retained message may be old: it says nothing of "now"
            history.touch(topic.node, message.received)
        return None

    def _drop(self, message: _Message, node: str, reason: str, detail: str) -> None:
        self._dropped[reason] += 1
        log.warning(
            "collector: dropped a message on %s from node %s (%d bytes): %s: %s",
            message.topic, node, len(message.payload), reason, detail[:300],
        )  # fmt: skip

    def _maintain(self) -> None:
        try:
            self.history.maintain()
        except Exception as exc:  # the next run tries again; ingest goes on meanwhile
            log.error("collector: history maintenance failed: %s", exc)
        self._notify(self._bump)

    # -- for the hub, the web server and tests (asyncio side) ----------------------------

    def _notify(self, callback: Callable[[], None]) -> None:
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is shutting down
                self._loop.call_soon_threadsafe(callback)

    def _bump(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_for(self, predicate: Callable[[History], bool], timeout: float = 10.0) -> None:
        """Until `predicate(history)` holds, re-checked after every commit (no polling).
        Raises TimeoutError after `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    changed = self._changed
                    if predicate(self.history):
                        return
                    await changed.wait()
        except TimeoutError:
            raise TimeoutError(f"collector: condition not met within {timeout} s") from None

    def nodes(self, now: float | None = None) -> list[NodeRow]:
        """Every node as history has it, and offline (reason "silent") if an online node
        has said nothing for `silent_after_s`: a command to it can fail fast."""
        now = time.time() if now is None else now
        return [self._judge(row, now) for row in self.history.nodes()]

    def node_status(self, name: str, now: float | None = None) -> NodeRow | None:
        return next((row for row in self.nodes(now) if row.name == name), None)

    def _judge(self, row: NodeRow, now: float) -> NodeRow:
        if row.state == "online" and row.last_seen is not None:
            if now - row.last_seen > self.silent_after_s:
                return replace(row, state="offline", since=row.last_seen, reason="silent")
        return row

    def stats(self) -> dict[str, float]:
        out = {name: float(value) for name, value in self._counters.items()}
        out["ingest_dropped_total"] = float(sum(self._dropped.values()))
        for reason, count in self._dropped.items():
            out[f'ingest_dropped_total{{reason="{reason}"}}'] = float(count)
        out["ingest_queue_messages"] = float(self._inbox.qsize())
        out["mqtt_connected"] = 1.0 if self._connected else 0.0
        return {**out, **self.history.stats()}


def live_status(status: payloads.Status) -> tuple[str, dict[str, Any]]:
    return "status", {
        "node": status.node, "state": status.state, "role": status.role,
        "at": status.at, "reason": status.reason,
    }  # fmt: skip


def live_items(
    batch: payloads.ReadingsBatch | payloads.LogBatch | payloads.EventsBatch, fresh: frozenset[int]
) -> LiveItems:
    """The live events of a batch's fresh items (the first of each seq, as history)."""
    out: LiveItems = []
    left = set(fresh)
    for item in batch.items:
        if item.seq not in left:
            continue
        left.discard(item.seq)
        if isinstance(item, payloads.ReadingsItem):
            readings = [
                {"metric": r.metric, "value": r.value, "unit": r.unit} for r in item.readings
            ]
            out.append(("readings", {"node": batch.node, "seq": item.seq, "plugin": item.plugin,
                                     "at": item.at, "readings": readings}))  # fmt: skip
        elif isinstance(item, payloads.LogItem):
            out.append(("log", {"node": batch.node, "seq": item.seq, "plugin": item.plugin,
                                "level": item.level.value, "message": item.message,
                                "at": item.at}))  # fmt: skip
        else:
            out.append(("event", {"node": batch.node, **item.model_dump(mode="json")}))
    return out


def _reason(error: str) -> str:
    """The drop reason (a label of ingest_dropped_total) for payloads.decode's message."""
    for prefix, reason in (
        ("oversized", "oversized"),
        ("not JSON", "not-json"),
        ("not a JSON object", "not-json"),
        ("wrong version", "version"),
    ):
        if error.startswith(prefix):
            return reason
    return "schema"
