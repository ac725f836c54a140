"""Home Assistant discovery: the config payloads (pure), and retained configs appearing and
vanishing at a real mosquitto as a node's plugins change."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiomqtt

from harvester.config import NodeConfig
from harvester.mesh import topics
from harvester.mesh.discovery import Discovery, discovery_messages
from harvester.mesh.payloads import MetricInfo, PluginInfo, Plugins, Status, encode
from tests.mesh.brokers import MosquittoProcess

BME680 = (
    MetricInfo(name="temperature", unit="°C", device_class="temperature"),
    MetricInfo(name="gas_resistance", unit="Ω", device_class="gas-resistance"),
    MetricInfo(name="uptime", unit="s", device_class="duration", state_class="total-increasing"),
    MetricInfo(name="memory_used", unit="B", device_class="data-size"),
)


def plugins(*metrics: MetricInfo, node: str = "pi4-a") -> Plugins:
    info = PluginInfo(
        name="bme680", version="abc", state="running", restarts=0, grants={}, metrics=metrics
    )
    return Plugins(node=node, at=time.time(), plugins=(info,))


def configs(messages: list[tuple[str, bytes]]) -> dict[str, dict[str, Any]]:
    return {topic: json.loads(payload) for topic, payload in messages}


def test_every_metric_becomes_a_sensor_config_with_home_assistants_names() -> None:
    status = Status(node="pi4-a", state="online", role="spoke", at=time.time(), version="0.1.0")
    found = configs(discovery_messages(plugins(*BME680), "homeassistant", status=status))
    base = "homeassistant/sensor/harvester_pi4-a"
    assert sorted(found) == sorted(
        f"{base}/bme680_{m}/config"
        for m in ("temperature", "gas_resistance", "uptime", "memory_used")
    )
    temperature = found[f"{base}/bme680_temperature/config"]
    assert temperature == {
        "unique_id": "harvester_pi4-a_bme680_temperature",
        "object_id": "harvester_pi4_a_bme680_temperature",
        "name": "bme680 temperature",
        "state_topic": "harvester/pi4-a/state/bme680",
        "value_template": "{{ value_json['values']['temperature'] }}",
        "unit_of_measurement": "°C",
        "device_class": "temperature",
        "state_class": "measurement",
        "availability": [
            {
                "topic": "harvester/pi4-a/status",
                "value_template": "{{ value_json.state }}",
                "payload_available": "online",
                "payload_not_available": "offline",
            }
        ],
        "device": {
            "identifiers": ["harvester_pi4-a"],
            "name": "pi4-a",
            "manufacturer": "Harvester",
            "model": "spoke",
            "sw_version": "0.1.0",
        },
    }
    gas = found[f"{base}/bme680_gas_resistance/config"]
    assert "device_class" not in gas and gas["unit_of_measurement"] == "Ω"  # HA has none
    uptime = found[f"{base}/bme680_uptime/config"]
    assert (uptime["device_class"], uptime["state_class"]) == ("duration", "total_increasing")
    assert found[f"{base}/bme680_memory_used/config"]["device_class"] == "data_size"


def test_without_a_status_the_device_has_no_model_and_an_actuator_has_no_sensors() -> None:
    found = configs(discovery_messages(plugins(*BME680[:1]), "ha"))
    (config,) = found.values()
    assert "model" not in config["device"] and "sw_version" not in config["device"]
    assert discovery_messages(plugins(), "ha") == []


async def test_retained_configs_appear_and_vanished_metrics_are_removed_also_across_hubs(
    mosquitto: MosquittoProcess,
) -> None:
    hub = NodeConfig.model_validate(
        {
            "name": "hub",
            "role": "hub",
            "mesh": {"broker": {"host": "127.0.0.1", "port": mosquitto.port}},
            "hub": {"discovery_prefix": "ha"},
        }
    )
    async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="test-node") as node:
        await node.publish(topics.plugins("pi4-a"), encode(plugins(*BME680[:2])), retain=True)
        async with Discovery(hub, credentials=None) as discovery:
            await wait_for(discovery, lambda: discovery.published == 2)
            retained = await read_retained(mosquitto, "ha/sensor/#")
            assert sorted(retained) == [
                "ha/sensor/harvester_pi4-a/bme680_gas_resistance/config",
                "ha/sensor/harvester_pi4-a/bme680_temperature/config",
            ]
            # The plugin no longer offers gas resistance: its entity goes.
            await node.publish(topics.plugins("pi4-a"), encode(plugins(*BME680[:1])), retain=True)
            await wait_for(discovery, lambda: discovery.removed == 1)
        retained = await read_retained(mosquitto, "ha/sensor/#")
        assert list(retained) == ["ha/sensor/harvester_pi4-a/bme680_temperature/config"]
        # While the hub is away the plugin loses its last metric: the next hub finds the
        # stale config at the broker and removes it.
        await node.publish(topics.plugins("pi4-a"), encode(plugins()), retain=True)
        async with Discovery(hub, credentials=None) as discovery:
            await wait_for(discovery, lambda: discovery.removed == 1)
        assert await read_retained(mosquitto, "ha/sensor/#") == {}


async def wait_for(discovery: Discovery, done: Any) -> None:
    async with asyncio.timeout(10):
        while not done():
            discovery.changed.clear()
            await discovery.changed.wait()


async def read_retained(broker: MosquittoProcess, pattern: str) -> dict[str, bytes]:
    """Every retained message under `pattern`, as a fresh subscriber gets them: they come
    right after the subscription, so a marker published after it ends the list."""
    found: dict[str, bytes] = {}
    marker = pattern.replace("#", "end-of-retained")
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="test-reader") as client:
        await client.subscribe(pattern, qos=1)
        await client.publish(marker, b"", qos=1)
        async with asyncio.timeout(10):
            async for message in client.messages:
                if message.topic.value == marker:
                    break
                assert message.retain and isinstance(message.payload, bytes)
                found[message.topic.value] = message.payload
    return found
