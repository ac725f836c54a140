"""The view-model the page draws its node cards, charts, controls and plugins view from,
computed from hub-data's answers (JSON text in the API's shapes): GET /ui/overview.json
and the bootstrap JSON in index.html."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Protocol

# SSD1306 panels answer at 0x3C or 0x3D: a node with a plugin granted one has a display
# the hub can show (GET /api/nodes/{node}/display.png).
DISPLAY_ADDRESSES = (0x3C, 0x3D)
COMMAND_PREFIXES = ("buzzer.", "led.")


class NodeNotFound(Exception):
    """hub-data does not know the node (it vanished between two questions)."""


class Hub(Protocol):
    """The part of hub-data the overview asks (app.py adapts the WIT import)."""

    def nodes(self) -> str: ...

    def node(self, node: str) -> str: ...


def _pins(pins: Iterable[int]) -> str:
    return ", ".join(str(p) for p in pins)


def describe_grants(grants: dict[str, Any]) -> list[str]:
    """A plugin's grants as lines a person reads, down to bus, address and pin."""
    lines: list[str] = []
    for grant in grants.get("i2c") or ():
        addresses = ", ".join(f"0x{a:02x}" for a in grant.get("addresses", ()))
        lines.append(f"I2C bus {grant.get('bus')} at {addresses}")
    if grants.get("gpio"):
        lines.append(f"GPIO {_pins(grants['gpio'])}")
    if grants.get("dht22"):
        lines.append(f"DHT22 on GPIO {_pins(grants['dht22'])}")
    for strip in grants.get("leds") or ():
        lines.append(f"LED strip {strip.get('strip')}, {strip.get('pixels')} pixels")
    if grants.get("buzzer"):
        lines.append(f"buzzer on GPIO {_pins(grants['buzzer'])}")
    if grants.get("system_info"):
        lines.append("system info")
    if grants.get("readings"):
        lines.append("the node's readings")
    if grants.get("hub_data"):
        lines.append("hub data (read-only)")
    known = {"i2c", "gpio", "dht22", "leds", "buzzer", "system_info", "readings", "hub_data"}
    for key in sorted(set(grants) - known):
        if grants[key] not in (None, False, [], (), {}):
            lines.append(f"{key}: {json.dumps(grants[key])}")
    return lines


def _has_display(plugins: list[dict[str, Any]]) -> bool:
    return any(
        address in DISPLAY_ADDRESSES
        for p in plugins
        for grant in (p.get("grants") or {}).get("i2c") or ()
        for address in grant.get("addresses", ())
    )


def _plugin(p: dict[str, Any], pending: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "name": p.get("name", ""),
        "version": p.get("version", ""),
        "state": p.get("state", ""),
        "restarts": p.get("restarts", 0),
        "grants": describe_grants(p.get("grants") or {}),
        "commands": list(p.get("commands") or ()),
        "metrics": [
            {"name": m.get("name", ""), "unit": m.get("unit", "")} for m in p.get("metrics") or ()
        ],
        # A signed deploy the hub holds until the node takes it (the newest, if several).
        "pending": None
        if pending is None
        else {k: pending.get(k) for k in ("sequence", "version", "key_id")},
    }


def build_overview(hub: Hub, chart_plugins: tuple[str, ...]) -> dict[str, Any]:
    """Every node with its plugins, the charts to draw and the controls to offer.

    Raises what `hub` raises, except a node that vanished between `nodes()` and `node()`,
    which is left out.
    """
    nodes: list[dict[str, Any]] = []
    charts: list[dict[str, Any]] = []
    controls: list[dict[str, Any]] = []
    for row in json.loads(hub.nodes()).get("nodes", []):
        try:
            detail = json.loads(hub.node(row["name"]))
        except NodeNotFound:
            continue
        raw_plugins = detail.get("plugins") or []
        pending = {d.get("plugin"): d for d in detail.get("deploys") or ()}
        plugins = [_plugin(p, pending.get(p.get("name"))) for p in raw_plugins]
        node = {**row, **detail.get("node", {})}
        nodes.append({**node, "display": _has_display(raw_plugins), "plugins": plugins})
        for p in plugins:
            if p["name"] in chart_plugins and p["metrics"]:
                charts.append({"node": row["name"], "plugin": p["name"], "metrics": p["metrics"]})
            offered = [c for c in p["commands"] if c.startswith(COMMAND_PREFIXES)]
            if offered:
                controls.append({"node": row["name"], "plugin": p["name"], "commands": offered})
    # The hub first (its card and log tab lead), then the others by name.
    nodes.sort(key=lambda n: (n.get("role") != "hub", n.get("name", "")))
    # Charts in the order the setting names the plugins, then by node.
    charts.sort(key=lambda c: (chart_plugins.index(c["plugin"]), c["node"]))
    return {"nodes": nodes, "charts": charts, "controls": controls}
