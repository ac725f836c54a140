"""The MQTT topic tree (docs/mesh.md is the page to read; this is the one place that
spells the names).

    harvester/<node>/status          retained  online/offline (offline is the last will)
    harvester/<node>/health          periodic  host and board health
    harvester/<node>/readings        outbox    batches of readings events, with seq
    harvester/<node>/log             outbox    batches of log lines, with seq
    harvester/<node>/events          outbox    batches of plugin state changes, with seq
    harvester/<node>/plugins         retained  every plugin: version, state, restarts, grants
    harvester/<node>/state/<plugin>  retained  the plugin's latest values (Home Assistant)
    harvester/<node>/cmd/<command>   hub only  a command for the node (`buzzer.beep`, ...)
    harvester/<node>/cmd-result      node      the answer to a command, by its id
    harvester/<node>/deploy/<plugin> hub only  retained: a signed deploy bundle (binary)
                                               held for the node; cleared once answered
    harvester/<node>/deploy-result   node      the node's answer to a deploy

Node and plugin names match `[a-z][a-z0-9-]*`, so they never contain MQTT's `/ + #`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

ROOT: Final = "harvester"

Kind = Literal[
    "status", "health", "readings", "log", "events", "plugins", "state", "cmd", "cmd-result",
    "deploy", "deploy-result",
]  # fmt: skip
KINDS: Final[frozenset[str]] = frozenset(Kind.__args__)  # type: ignore[attr-defined]
# What travels through the outbox: numbered by the node's sequence, at least once.
OUTBOX_KINDS: Final = ("readings", "log", "events")
# Kinds whose payload is not JSON (payloads.MODELS has no model for them).
BINARY_KINDS: Final[frozenset[str]] = frozenset({"deploy"})
# Kinds with a last level (`state/<plugin>`, `cmd/<command>`, `deploy/<plugin>`).
NESTED_KINDS: Final = ("state", "cmd", "deploy")


def status(node: str) -> str:
    return f"{ROOT}/{node}/status"


def health(node: str) -> str:
    return f"{ROOT}/{node}/health"


def readings(node: str) -> str:
    return f"{ROOT}/{node}/readings"


def log(node: str) -> str:
    return f"{ROOT}/{node}/log"


def events(node: str) -> str:
    return f"{ROOT}/{node}/events"


def plugins(node: str) -> str:
    return f"{ROOT}/{node}/plugins"


def state(node: str, plugin: str) -> str:
    return f"{ROOT}/{node}/state/{plugin}"


def cmd(node: str, command: str) -> str:
    return f"{ROOT}/{node}/cmd/{command}"


def cmd_result(node: str) -> str:
    return f"{ROOT}/{node}/cmd-result"


def deploy(node: str, plugin: str) -> str:
    return f"{ROOT}/{node}/deploy/{plugin}"


def deploy_result(node: str) -> str:
    return f"{ROOT}/{node}/deploy-result"


def own_tree(node: str) -> str:
    """Everything under one node (an ACL pattern or a subscription)."""
    return f"{ROOT}/{node}/#"


def every_node(kind: str) -> str:
    """A subscription to one kind of topic from every node (`harvester/+/readings`)."""
    return f"{ROOT}/+/{kind}/#" if kind in NESTED_KINDS else f"{ROOT}/+/{kind}"


ALL: Final = f"{ROOT}/#"


@dataclass(frozen=True)
class Topic:
    """A received topic, taken apart."""

    node: str
    kind: str
    # The plugin of `state/<plugin>` and `deploy/<plugin>`, the command of `cmd/<command>`.
    rest: str = ""


def parse(topic: str) -> Topic | None:
    """`harvester/<node>/<kind>[/<rest>]` taken apart, or None if it is not one of ours."""
    parts = topic.split("/", 3)
    if len(parts) < 3 or parts[0] != ROOT or not parts[1] or parts[2] not in KINDS:
        return None
    rest = parts[3] if len(parts) == 4 else ""
    if (parts[2] in NESTED_KINDS) != bool(rest):
        return None
    return Topic(parts[1], parts[2], rest)
