"""The fleet's MQTT broker: Mosquitto's config generated from the cluster description
(production), and the embedded amqtt broker the hub starts when there is none
(docs/brokers.md). One rules source (rules.py) serves both."""

from harvester.mesh.broker.acl import acl_file, acl_lines
from harvester.mesh.broker.embedded import EmbeddedBrokerError, EmbeddedBrokerProcess
from harvester.mesh.broker.mosquitto import BrokerFiles, load_cluster_credentials, render
from harvester.mesh.broker.passwords import hash_password, password_file, verify_password
from harvester.mesh.broker.rules import Rule, cluster_rules, may_read, may_subscribe, may_write

__all__ = [
    "BrokerFiles",
    "EmbeddedBrokerError",
    "EmbeddedBrokerProcess",
    "Rule",
    "acl_file",
    "acl_lines",
    "cluster_rules",
    "hash_password",
    "load_cluster_credentials",
    "may_read",
    "may_subscribe",
    "may_write",
    "password_file",
    "render",
    "verify_password",
]
