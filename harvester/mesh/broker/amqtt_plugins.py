"""amqtt plugins that give the embedded broker Mosquitto's rules: one user per node with
its password from the cluster's secrets files, the ACL of rules.py checked on every
publish, subscribe and delivery, and retained messages that survive a restart. Loaded by
the broker child (child.py) by dotted path, so they are configured with plain data
(amqtt builds their `Config` with dacite).
"""

from __future__ import annotations

import functools
import hmac
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from amqtt.broker import RetainedApplicationMessage
from amqtt.contexts import Action, BaseContext
from amqtt.plugins.base import BaseAuthPlugin, BasePlugin, BaseTopicPlugin
from amqtt.session import Session

from harvester.config.cluster import load_cluster_config
from harvester.config.secrets import Credentials
from harvester.mesh.broker.mosquitto import load_cluster_credentials
from harvester.mesh.broker.rules import Rule, may_read, may_subscribe, may_write, rules_by_user

log = logging.getLogger("harvester.mesh.broker")


@dataclass(frozen=True)
class Policy:
    passwords: dict[str, str]  # user -> password
    rules: dict[str, tuple[Rule, ...]]  # user -> rules


@functools.cache
def cluster_policy(cluster_file: str, discovery_prefix: str) -> Policy:
    """Loaded once per broker process and shared by both plugins. Raises ConfigError or
    SecretsError naming the file."""
    cluster = load_cluster_config(Path(cluster_file))
    creds: dict[str, Credentials] = load_cluster_credentials(cluster)
    usernames = {node: c.username for node, c in creds.items()}
    return Policy(
        passwords={c.username: c.password for c in creds.values()},
        rules=rules_by_user(cluster, usernames, discovery_prefix=discovery_prefix),
    )


@dataclass
class PolicyConfig:
    cluster_file: str = ""
    discovery_prefix: str = "homeassistant"


class ClusterAuthPlugin(BaseAuthPlugin):
    """A node's user and password, nothing else: anonymous clients are refused, and so is
    a last will on a topic the user may not write (amqtt publishes wills unchecked;
    Mosquitto refuses such a connect too)."""

    Config = PolicyConfig

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self.policy = cluster_policy(self.config.cluster_file, self.config.discovery_prefix)

    async def authenticate(self, *, session: Session) -> bool | None:
        user, password = session.username, session.password or ""
        expected = self.policy.passwords.get(user or "")
        if user is None or expected is None:
            log.warning("refused client %r: unknown or no user %r", session.client_id, user)
            return False
        if not hmac.compare_digest(password.encode(), expected.encode()):
            log.warning("refused client %r: wrong password for user %r", session.client_id, user)
            return False
        if session.will_flag and not may_write(self.policy.rules[user], session.will_topic or ""):
            log.warning(
                "refused client %r: user %r may not write its will topic %r",
                session.client_id,
                user,
                session.will_topic,
            )
            return False
        return True


class ClusterAclPlugin(BaseTopicPlugin):
    """rules.py's ACL. A subscription must be covered by a read rule as a whole (amqtt
    sends retained messages on subscribe without a per-message check), where Mosquitto
    accepts it and filters each delivery; deliveries are checked as well."""

    Config = PolicyConfig

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self.policy = cluster_policy(self.config.cluster_file, self.config.discovery_prefix)

    async def topic_filtering(
        self,
        *,
        session: Session | None = None,
        topic: str | None = None,
        action: Action | None = None,
    ) -> bool | None:
        user = session.username if session else None
        rules = self.policy.rules.get(user or "", ())
        if topic is None:
            return False
        if action == Action.PUBLISH:
            allowed = may_write(rules, topic)
        elif action == Action.SUBSCRIBE:
            allowed = may_subscribe(rules, topic)
        else:
            allowed = may_read(rules, topic)
        if not allowed and action != Action.RECEIVE:
            log.warning("denied %s of %r to user %r", action, topic, user)
        return allowed


@dataclass
class RetainedStoreConfig:
    file: str = ""


class RetainedStorePlugin(BasePlugin):
    """Retained messages kept in SQLite, so they survive a restart of the broker (what
    Mosquitto's `persistence` does for them): a node's status, its plugins, discovery.
    Retained messages change seldom (status, plugins, a plugin's latest state), so a
    synchronous write on the broker's loop is cheap."""

    Config = RetainedStoreConfig

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        path = Path(self.config.file)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS retained"
            " (topic TEXT PRIMARY KEY, payload BLOB NOT NULL, qos INTEGER NOT NULL)"
        )

    async def on_broker_post_start(self) -> None:
        rows = self.db.execute("SELECT topic, payload, qos FROM retained").fetchall()
        for topic, payload, qos in rows:
            await self.context.retain_message(topic, payload, qos)
        log.info("restored %d retained message(s) from %s", len(rows), self.config.file)

    async def on_broker_retained_message(
        self, *, client_id: str | None, retained_message: RetainedApplicationMessage
    ) -> None:
        if client_id is not None:
            return  # a message queued for one offline session, not a topic's retained one
        topic, data = retained_message.topic, bytes(retained_message.data or b"")
        if data:
            self.db.execute(
                "INSERT OR REPLACE INTO retained (topic, payload, qos) VALUES (?, ?, ?)",
                (topic, data, retained_message.qos or 0),
            )
        else:  # an empty retained message clears the topic (MQTT 3.3.1-10)
            self.db.execute("DELETE FROM retained WHERE topic = ?", (topic,))

    async def close(self) -> None:
        self.db.close()
