"""The web layer: what nodes and the hub serve over HTTP. On the hub the JSON API (api.py,
with auth.py, stream.py, headers.py, openapi.py) and /metrics; on any node /metrics."""

from harvester.web.metrics import StatsProvider, metrics_app, node_registry

__all__ = ["StatsProvider", "metrics_app", "node_registry"]
