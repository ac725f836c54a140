"""The node's health message (harvester/<node>/health): the board's metrics, read as the
native monitor reads them, and the host's own (its memory, its outbox, its plugins)."""

from __future__ import annotations

import logging
import math
import time

import psutil  # type: ignore[import-untyped]  # ships no type information

from harvester.hal import HalError
from harvester.mesh.payloads import Health
from harvester.node import Node
from harvester.node.native_monitor import read_health

log = logging.getLogger("harvester.mesh.health")


def node_health(node: Node, *, outbox_rows: int, outbox_dropped: int) -> Health:
    """One Health payload for `node`, read now (call it in a thread: it reads files). A
    metric the board cannot give is left out (said once at debug level: the native
    monitor, if enabled, already says it on the bus)."""

    def missing(what: str, exc: HalError) -> None:
        log.debug("health of %s: %s not available: %s", node.config.name, what, exc)

    metrics: dict[str, float] = {}
    system = node.backend.system
    if system is not None:
        metrics.update((r.metric, r.value) for r in read_health(system, missing))
    runners = node.supervisor.runners
    plugins_total = len(runners) + (1 if node.native_monitor is not None else 0)
    plugins_running = sum(1 for r in runners.values() if r.state == "running")
    plugins_running += 1 if node.native_monitor is not None else 0
    metrics.update(
        host_rss_bytes=float(psutil.Process().memory_info().rss),
        outbox_rows=float(outbox_rows),
        outbox_dropped=float(outbox_dropped),
        plugins_running=float(plugins_running),
        plugins_total=float(plugins_total),
    )
    finite = {k: v for k, v in metrics.items() if math.isfinite(v)}
    return Health(node=node.config.name, at=time.time(), metrics=finite)
