"""Home Assistant MQTT discovery: every metric of every node's plugins becomes a sensor.

From each node's retained `plugins` payload (and its `status`, for the device's model and
software version) the hub publishes one retained config per metric:

    <prefix>/sensor/harvester_<node>/<plugin>_<metric>/config

Home Assistant reads the value from the plugin's retained state topic and the node's
availability from its status topic. A metric that vanished gets an empty retained config,
which is how Home Assistant is told to remove the entity. Full key names are used (the
abbreviations are optional).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Final

import aiomqtt

from harvester import __version__
from harvester.config import NodeConfig
from harvester.config.secrets import Credentials
from harvester.constants import DeviceClass, StateClass
from harvester.mesh import topics
from harvester.mesh.connection import Background, make_client, reconnecting
from harvester.mesh.payloads import PayloadError, Plugins, Status, decode

log = logging.getLogger("harvester.mesh.discovery")

MANUFACTURER: Final = "Harvester"
# Ours → Home Assistant's sensor device classes. Gas resistance has none there: the
# entity gets no device class and keeps its unit (Ω).
HA_DEVICE_CLASS: Final[dict[DeviceClass, str | None]] = {
    DeviceClass.NONE: None,
    DeviceClass.TEMPERATURE: "temperature",
    DeviceClass.HUMIDITY: "humidity",
    DeviceClass.PRESSURE: "pressure",
    DeviceClass.GAS_RESISTANCE: None,
    DeviceClass.POWER_FACTOR: "power_factor",
    DeviceClass.VOLTAGE: "voltage",
    DeviceClass.CURRENT: "current",
    DeviceClass.DURATION: "duration",
    DeviceClass.DATA_SIZE: "data_size",
    DeviceClass.FREQUENCY: "frequency",
}
HA_STATE_CLASS: Final[dict[StateClass, str]] = {
    StateClass.MEASUREMENT: "measurement",
    StateClass.TOTAL: "total",
    StateClass.TOTAL_INCREASING: "total_increasing",
}

Message = tuple[str, bytes]


def device_id(node: str) -> str:
    """The Home Assistant device of `node` (node names hold `-`, which HA ids keep)."""
    return f"harvester_{node}"


def config_topic(prefix: str, node: str, plugin: str, metric: str) -> str:
    return f"{prefix}/sensor/{device_id(node)}/{plugin}_{metric}/config"


def discovery_messages(
    plugins: Plugins, prefix: str, *, status: Status | None = None
) -> list[Message]:
    """(topic, retained payload) of every metric of `plugins`' node. `status`, if known,
    gives the device's model (the node's role) and software version (the host's)."""
    node = plugins.node
    device: dict[str, Any] = {
        "identifiers": [device_id(node)],
        "name": node,
        "manufacturer": MANUFACTURER,
    }
    if status is not None:
        device["model"] = status.role
        device["sw_version"] = status.version or __version__
    availability = [
        {
            "topic": topics.status(node),
            "value_template": "{{ value_json.state }}",
            "payload_available": "online",
            "payload_not_available": "offline",
        }
    ]
    messages: list[Message] = []
    for plugin in plugins.plugins:
        for metric in plugin.metrics:
            object_id = f"{device_id(node)}_{plugin.name}_{metric.name}".replace("-", "_")
            config: dict[str, Any] = {
                "unique_id": f"{device_id(node)}_{plugin.name}_{metric.name}",
                "object_id": object_id,
                "name": f"{plugin.name} {metric.name.replace('_', ' ')}",
                "state_topic": topics.state(node, plugin.name),
                # Subscripts, not dots: in Jinja `value_json.values` is the dict's method.
                "value_template": f"{{{{ value_json['values']['{metric.name}'] }}}}",
                "state_class": HA_STATE_CLASS[metric.state_class],
                "availability": availability,
                "device": device,
            }
            if metric.unit:
                config["unit_of_measurement"] = metric.unit
            if (device_class := HA_DEVICE_CLASS[metric.device_class]) is not None:
                config["device_class"] = device_class
            topic = config_topic(prefix, node, plugin.name, metric.name)
            messages.append((topic, json.dumps(config, sort_keys=True).encode()))
    return messages


class Discovery(Background):
    """An async context manager for the hub: keeps Home Assistant's retained configs in
    step with every node's plugins. `changed` is set after each round of publishing."""

    def __init__(self, config: NodeConfig, *, credentials: Credentials | None) -> None:
        self.config = config
        self.prefix = config.hub_settings.discovery_prefix
        self._credentials = credentials
        self._plugins: dict[str, Plugins] = {}
        self._status: dict[str, Status] = {}
        # What is retained at the broker now, per node (ours, or found there at start).
        self._published: dict[str, dict[str, bytes]] = {}
        self.ready = asyncio.Event()
        self.changed = asyncio.Event()
        self.published = 0
        self.removed = 0

    def stats(self) -> dict[str, float]:
        return {
            "discovery_configs_published_total": self.published,
            "discovery_configs_removed_total": self.removed,
        }

    def _task_name(self) -> str:
        return "discovery"

    async def _serve(self) -> None:
        def factory() -> aiomqtt.Client:
            return make_client(
                self.config,
                client_id=f"{self.config.name}-discovery",
                credentials=self._credentials,
            )

        async with reconnecting(factory, what="discovery") as sessions:
            async for client in sessions():
                try:
                    # Our own earlier configs first (retained): what may need removing.
                    await client.subscribe(f"{self.prefix}/sensor/+/+/config", qos=1)
                    await client.subscribe(topics.every_node("status"), qos=1)
                    await client.subscribe(topics.every_node("plugins"), qos=1)
                    self.ready.set()
                    async for message in client.messages:
                        payload = message.payload
                        if isinstance(payload, bytes | bytearray):
                            await self._receive(client, message.topic.value, bytes(payload))
                except aiomqtt.MqttError:
                    continue
                finally:
                    self.ready.clear()

    async def _receive(self, client: aiomqtt.Client, topic: str, payload: bytes) -> None:
        if topic.startswith(f"{self.prefix}/sensor/"):
            return await self._found_config(client, topic, payload)
        parsed = topics.parse(topic)
        if parsed is None or parsed.kind not in ("status", "plugins"):
            return None
        try:
            if parsed.kind == "status":
                self._status[parsed.node] = decode(Status, payload)
            else:
                self._plugins[parsed.node] = decode(Plugins, payload)
        except PayloadError as exc:
            log.warning("discovery: dropped %s: %s", topic, exc)
            return None
        node = parsed.node
        if node not in self._plugins:
            return None
        if self._plugins[node].node != node or (
            node in self._status and self._status[node].node != node
        ):
            log.warning("discovery: dropped %s: the payload names another node", topic)
            return None
        await self._sync(client, node)
        return None

    async def _found_config(self, client: aiomqtt.Client, topic: str, payload: bytes) -> None:
        """A retained config at the broker: remember ours; remove it if no longer wanted."""
        parts = topic.split("/")
        if not payload or len(parts) != 5 or not parts[2].startswith(device_id("")):
            return
        node = parts[2].removeprefix(device_id(""))
        known = self._published.setdefault(node, {})
        if topic in known:
            return  # our own, echoed back
        known[topic] = payload
        if node in self._plugins:
            await self._sync(client, node)

    async def _sync(self, client: aiomqtt.Client, node: str) -> None:
        wanted = dict(
            discovery_messages(self._plugins[node], self.prefix, status=self._status.get(node))
        )
        known = self._published.setdefault(node, {})
        for topic, payload in wanted.items():
            if known.get(topic) != payload:
                known[topic] = payload
                await client.publish(topic, payload, qos=1, retain=True)
                self.published += 1
        for topic in [t for t in known if t not in wanted]:
            del known[topic]
            await client.publish(topic, b"", qos=1, retain=True)  # HA removes the entity
            self.removed += 1
            log.info("discovery: removed %s (the metric is gone)", topic)
        self.changed.set()
