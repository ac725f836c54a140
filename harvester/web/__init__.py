"""The web layer: what nodes and the hub serve over HTTP (the Prometheus endpoint so far)."""

from harvester.web.metrics import StatsProvider, metrics_app, node_registry

__all__ = ["StatsProvider", "metrics_app", "node_registry"]
