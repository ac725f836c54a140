"""How a node joins the fleet: where the broker is, its credentials, its outbox; and, on the
hub, the broker it runs, its history and its web server (docs/mesh.md, docs/config.md).

A node with no `[mesh]` table runs alone (no MQTT at all), as before the fleet existed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, model_validator

from harvester.config.base import Frozen

Port = int  # checked by Field(ge=1, le=65535) where used
DAY_S = 86_400.0


class BrokerAddress(Frozen):
    host: str = Field(default="127.0.0.1", min_length=1, max_length=253)
    port: int = Field(default=1883, ge=1, le=65535)


class ClientTls(Frozen):
    """TLS to the broker: the CA that signed its certificate (and, optionally, a client
    certificate of the node's own)."""

    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None

    @model_validator(mode="after")
    def _cert_with_key(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file come together: give both or neither")
        return self


class OutboxConfig(Frozen):
    """The spoke's on-disk store-and-forward queue of telemetry (readings, logs, events)."""

    # Bounds: past either, the oldest rows are dropped, with a log line and a counter.
    max_rows: int = Field(default=500_000, ge=100, le=50_000_000)
    max_age_s: float = Field(default=7 * DAY_S, ge=60, le=365 * DAY_S)
    # One MQTT message carries up to this many events (many readings per publish).
    batch_max: int = Field(default=500, ge=1, le=5000)
    # How long a new event may wait for others to share its message.
    linger_ms: int = Field(default=20, ge=0, le=10_000)


class MeshConfig(Frozen):
    """The node's side of the mesh: on every node that talks MQTT, hub included."""

    # Where to connect. On a hub whose [hub] runs the embedded broker, leave it out: the
    # hub connects to its own broker.
    broker: BrokerAddress | None = None
    # A TOML secrets file with `username` and `password` (docs/mesh.md#credentials); never
    # in the repo. Without it the node connects anonymously (the embedded broker's
    # loopback default only).
    credentials: Path | None = None
    tls: ClientTls | None = None
    # The broker declares the node offline (its last will) after 1.5 keep-alives of silence.
    keepalive_s: int = Field(default=5, ge=2, le=600)
    health_interval_s: float = Field(default=30.0, ge=0.5, le=DAY_S)
    outbox: OutboxConfig = OutboxConfig()


class HistoryConfig(Frozen):
    """The hub's history: raw readings for a while, minute aggregates for longer."""

    raw_window_s: float = Field(default=2 * DAY_S, ge=60, le=365 * DAY_S)
    minute_window_s: float = Field(default=365 * DAY_S, ge=60, le=10 * 365 * DAY_S)
    log_window_s: float = Field(default=30 * DAY_S, ge=60, le=365 * DAY_S)
    health_window_s: float = Field(default=30 * DAY_S, ge=60, le=365 * DAY_S)
    # How often retention and down-sampling run.
    maintenance_interval_s: float = Field(default=300.0, ge=1, le=DAY_S)

    @model_validator(mode="after")
    def _minutes_outlive_raw(self) -> Self:
        if self.minute_window_s < self.raw_window_s:
            raise ValueError("minute_window_s must not be shorter than raw_window_s")
        return self


class EmbeddedBroker(Frozen):
    """The broker the hub starts itself when the fleet has no Mosquitto (amqtt, in a child
    process). Loopback by default: open it to the LAN with `host = "0.0.0.0"` and
    credentials for every node (`harvester broker config`)."""

    host: str = Field(default="127.0.0.1", min_length=1, max_length=253)
    port: int = Field(default=1883, ge=1, le=65535)
    # The broker's password file and ACL come from the cluster description; without one,
    # it accepts anonymous clients (only sensible on loopback).
    cluster: Path | None = None


class WebConfig(Frozen):
    host: str = Field(default="127.0.0.1", min_length=1, max_length=253)
    port: int = Field(default=3000, ge=1, le=65535)
    # A secrets file holding `token = "..."`: what write requests (commands, plugin
    # control) must carry as `Authorization: Bearer ...`, or give once to POST /api/login
    # for a session cookie. Without it, writes are refused.
    token_file: Path | None = None
    # Reads (the API, the live stream, the dashboard's pages): "open" to anyone who can
    # reach the port (the LAN, for a greenhouse), or "token" (the same token or session).
    read_access: Literal["open", "token"] = "open"
    # How long a login's session cookie lasts.
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    # The plugin (of this hub) that serves the pages under / and /ui/; the API stays up
    # without it.
    ui_plugin: str = Field(default="dashboard", pattern=r"^[a-z][a-z0-9-]{0,31}$")


class HubConfig(Frozen):
    """What only the hub runs: the broker (unless the fleet has its own), the collector
    and its history, and the web server."""

    broker: Literal["embedded", "external"] = "embedded"
    embedded: EmbeddedBroker = EmbeddedBroker()
    history: HistoryConfig = HistoryConfig()
    web: WebConfig = WebConfig()
    # Publish Home Assistant MQTT discovery for every metric of every node.
    home_assistant: bool = True
    discovery_prefix: str = Field(default="homeassistant", pattern=r"^[A-Za-z0-9_-]+$")


class MetricsConfig(Frozen):
    """The node's Prometheus endpoint (`/metrics`); off unless a port is given. The hub
    also serves it on its web port."""

    host: str = Field(default="127.0.0.1", min_length=1, max_length=253)
    port: int | None = Field(default=None, ge=1, le=65535)
