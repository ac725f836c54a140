"""A node's figures for Prometheus, rendered at scrape time (GET /metrics, text 0.0.4).

    harvester_plugin_state{node,plugin,state}   1 for the plugin's current state, 0 else
    harvester_plugin_restarts_total{node,plugin}
    harvester_plugin_polls_total{node,plugin}
    harvester_plugin_info{node,plugin,version}
    harvester_<name>{node}                      each stats() figure handed in; a name
                                                ending in _total is a counter

Nothing is copied into metric objects between scrapes: the collector reads the node when
Prometheus asks, so the figures cannot drift from what the node reports elsewhere.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Final, get_args

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from harvester.hal.sim.backend import SimBackend
from harvester.node import Node
from harvester.node.events import PluginState

log = logging.getLogger("harvester.web.metrics")

PREFIX: Final = "harvester_"
STATES: Final[tuple[str, ...]] = get_args(PluginState)
NAME: Final = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_KEY: Final = re.compile(r"^([a-zA-Z_][a-zA-Z0-9_]*)(?:\{(.*)\})?$")
_LABEL: Final = re.compile(r'^([a-zA-Z_][a-zA-Z0-9_]*)="([^"\\]*)"$')


def _parse_key(key: str) -> tuple[str, dict[str, str]] | None:
    """`name` or `name{a="x",b="y"}` taken apart; None if it is neither."""
    match = _KEY.match(key)
    if match is None:
        return None
    labels: dict[str, str] = {}
    if match.group(2):
        for part in match.group(2).split(","):
            label = _LABEL.match(part.strip())
            if label is None or label.group(1) == "node":
                return None
            labels[label.group(1)] = label.group(2)
    return match.group(1), labels


# A component's stats(): counters and gauges by snake_case name, with their unit.
StatsProvider = Callable[[], Mapping[str, float]]


class NodeCollector(Collector):
    """Reads `node`'s supervisor and every provider at each scrape."""

    def __init__(self, node: Node, providers: Iterable[StatsProvider] = ()) -> None:
        self.node = node
        self.providers = tuple(providers)

    def collect(self) -> Iterator[Metric]:
        node = self.node.config.name
        state = GaugeMetricFamily(
            "harvester_plugin_state",
            "1 for the plugin's current state",
            labels=["node", "plugin", "state"],
        )
        restarts = CounterMetricFamily(
            "harvester_plugin_restarts",
            "Instances started after the first (after a fault, or asked for)",
            labels=["node", "plugin"],
        )
        polls = CounterMetricFamily(
            "harvester_plugin_polls", "Polls of the plugin's sensor", labels=["node", "plugin"]
        )
        info = InfoMetricFamily(
            "harvester_plugin", "The running component's content hash", labels=["node", "plugin"]
        )
        for name, runner in self.node.supervisor.runners.items():
            for each in STATES:
                state.add_metric([node, name, each], 1.0 if runner.state == each else 0.0)
            restarts.add_metric([node, name], runner.restarts)
            polls.add_metric([node, name], runner.polls)
            info.add_metric([node, name], {"version": runner.version})
        yield from (state, restarts, polls, info)
        yield from self._provided(node)
        yield from self._simulated(node)

    def _simulated(self, node: str) -> Iterator[Metric]:
        """On the sim backend, what its actuators did: how a test or a person watching a
        simulated node sees a beep arrive, from outside the process."""
        backend = self.node.backend
        if not isinstance(backend, SimBackend):
            return
        tones = CounterMetricFamily(
            "harvester_sim_buzzer_tones",
            "Tones the simulated buzzer played",
            labels=["node", "pin"],
        )
        last = GaugeMetricFamily(
            "harvester_sim_buzzer_last_frequency_hz",
            "The simulated buzzer's last tone",
            labels=["node", "pin"],
        )
        for pin in backend.buzzer.buzzers:
            played = backend.buzzer.played(pin)
            tones.add_metric([node, str(pin)], len(played))
            if played and played[-1].frequency_hz is not None:  # None: an active buzzer
                last.add_metric([node, str(pin)], played[-1].frequency_hz)
        lit = GaugeMetricFamily(
            "harvester_sim_led_pixels_lit", "Simulated LED pixels not off", labels=["node", "strip"]
        )
        for strip, sim in backend.leds.strips.items():
            lit.add_metric([node, str(strip)], sum(1 for p in sim.pixels if p))
        yield from (tones, last, lit)

    def _provided(self, node: str) -> Iterator[Metric]:
        """Every provider's figures. A key is a name (`outbox_rows`) or a name with labels
        (`ingest_dropped_total{reason="schema"}`); one family per name."""
        families: dict[str, tuple[Metric, tuple[str, ...]]] = {}
        seen: set[str] = set()
        for provider in self.providers:
            try:
                figures = dict(provider())
            except Exception:  # one broken provider must not take the whole scrape down
                log.exception("metrics: a stats() provider failed; its figures are left out")
                continue
            for key, value in figures.items():
                parsed = _parse_key(key)
                if parsed is None or key in seen:
                    log.warning("metrics: left out figure %r (bad or repeated name)", key)
                    continue
                seen.add(key)
                base, labels = parsed
                names = ("node", *labels)
                entry = families.get(base)
                if entry is None:
                    family: Metric
                    if base.endswith("_total"):  # prometheus_client adds the suffix itself
                        family = CounterMetricFamily(
                            PREFIX + base.removesuffix("_total"), base, labels=list(names)
                        )
                    else:
                        family = GaugeMetricFamily(PREFIX + base, base, labels=list(names))
                    entry = families[base] = (family, names)
                family, expected = entry
                if expected != names:
                    log.warning("metrics: left out figure %r (labels differ from %s)", key, base)
                    continue
                family.add_metric([node, *labels.values()], float(value))  # type: ignore[attr-defined]
        for family, _ in families.values():
            yield family


def node_registry(node: Node, providers: Iterable[StatsProvider] = ()) -> CollectorRegistry:
    """A registry of its own (not the process-wide one) holding the node's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NodeCollector(node, providers))
    return registry


REGISTRY: Final = web.AppKey("metrics_registry", CollectorRegistry)


async def handle_metrics(request: web.Request) -> web.Response:
    """GET /metrics: the registry in `request.app[REGISTRY]`, in the text format 0.0.4."""
    body = generate_latest(request.app[REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})


def metrics_app(node: Node, providers: Iterable[StatsProvider] = ()) -> web.Application:
    """A tiny app serving GET /metrics for `node` (the hub mounts handle_metrics itself)."""
    app = web.Application()
    app[REGISTRY] = node_registry(node, providers)
    app.router.add_get("/metrics", handle_metrics)
    return app
