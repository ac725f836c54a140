"""Who may write and read which topics: the one rules source for both brokers.

Mosquitto gets them as an ACL file (acl.py), NixOS as `services.mosquitto` ACL strings
(`acl_lines`), the embedded amqtt broker checks them per publish, subscribe and delivery
(amqtt_plugins.py). A spoke writes only its own telemetry and reads only its own commands;
the hub reads everything, writes commands and deploys to every node, its own tree and Home
Assistant discovery. No spoke may write any `cmd/` or `deploy/` topic; a spoke reads only
its own deploys and answers them on its own `deploy-result`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from harvester.config.cluster import ClusterConfig
from harvester.mesh import topics

Access = Literal["read", "write", "readwrite"]
DEFAULT_DISCOVERY_PREFIX: Final = "homeassistant"
# What a spoke publishes under harvester/<own>/ (plus state/<plugin>).
SPOKE_WRITES: Final = (
    "status", "health", "readings", "log", "events", "plugins", "cmd-result", "deploy-result",
)  # fmt: skip


@dataclass(frozen=True)
class Rule:
    access: Access
    pattern: str  # an MQTT topic filter (`+` and `#` allowed)

    @property
    def line(self) -> str:
        """`readwrite harvester/pi4/#`: Mosquitto's ACL line after `topic`, and NixOS's form."""
        return f"{self.access} {self.pattern}"

    @property
    def reads(self) -> bool:
        return self.access in ("read", "readwrite")

    @property
    def writes(self) -> bool:
        return self.access in ("write", "readwrite")


def spoke_rules(node: str) -> tuple[Rule, ...]:
    root = f"{topics.ROOT}/{node}"
    return (
        *(Rule("write", f"{root}/{kind}") for kind in SPOKE_WRITES),
        Rule("write", f"{root}/state/#"),
        Rule("read", f"{root}/cmd/#"),
        Rule("read", f"{root}/deploy/#"),
    )


def hub_rules(node: str, discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX) -> tuple[Rule, ...]:
    return (
        Rule("read", topics.ALL),
        Rule("write", f"{topics.ROOT}/+/cmd/#"),
        Rule("write", f"{topics.ROOT}/+/deploy/#"),
        Rule("readwrite", topics.own_tree(node)),
        Rule("readwrite", f"{discovery_prefix}/#"),
    )


def cluster_rules(
    cluster: ClusterConfig, *, discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX
) -> dict[str, tuple[Rule, ...]]:
    """Every node's rules, by user name (a node's MQTT user is its name)."""
    return {
        n.name: hub_rules(n.name, discovery_prefix) if n.role == "hub" else spoke_rules(n.name)
        for n in cluster.nodes
    }


def matches(topic: str, pattern: str) -> bool:
    """Does the topic name `topic` match the MQTT filter `pattern`?"""
    return covers(topic, pattern)


def covers(inner: str, outer: str) -> bool:
    """Is every topic matched by filter `inner` also matched by filter `outer`? (With a
    plain topic as `inner`, this is matching.) A subscription is allowed only when a read
    rule covers it, so nothing it could deliver (retained messages included) is forbidden."""
    a, b = inner.split("/"), outer.split("/")
    for i, level in enumerate(b):
        if level == "#":
            return True  # `#` also matches the parent level itself (MQTT 4.7.1.2)
        if i >= len(a):
            return False
        if a[i] == "#":
            return False  # inner reaches deeper than outer's fixed levels allow
        if level != "+" and (a[i] == "+" or a[i] != level):
            return False
    return len(a) == len(b)


def may_write(rules: tuple[Rule, ...], topic: str) -> bool:
    return any(r.writes and matches(topic, r.pattern) for r in rules)


def may_read(rules: tuple[Rule, ...], topic: str) -> bool:
    return any(r.reads and matches(topic, r.pattern) for r in rules)


def may_subscribe(rules: tuple[Rule, ...], topic_filter: str) -> bool:
    return any(r.reads and covers(topic_filter, r.pattern) for r in rules)


def rules_by_user(
    cluster: ClusterConfig,
    usernames: dict[str, str],
    *,
    discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX,
) -> dict[str, tuple[Rule, ...]]:
    """The rules keyed by MQTT user name (`usernames`: node -> its user). `secrets init`
    makes a node's user its name; a hand-written secrets file may choose another."""
    rules = cluster_rules(cluster, discovery_prefix=discovery_prefix)
    return {usernames[node]: node_rules for node, node_rules in rules.items()}
