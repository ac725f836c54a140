"""GET /metrics of a running node, scraped over HTTP and read with Prometheus' own parser."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from harvester.hal.sim.backend import SimBackend
from harvester.node import Node
from harvester.web import metrics_app
from tests.conftest import BME680_PLUGIN, make_node


async def scrape(app_node: Node, *providers: object) -> tuple[str, dict[str, list[Sample]]]:
    app = metrics_app(app_node, providers)  # type: ignore[arg-type]
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.get("/metrics")
        assert response.status == 200
        text = await response.text()
        content_type = response.headers["Content-Type"]
    families = {f.name: f.samples for f in text_string_to_metric_families(text)}
    return content_type, families


async def test_a_scrape_shows_each_plugins_state_restarts_polls_and_the_providers(
    tmp_path: Path,
) -> None:
    # "ghost" has no component in the plugin folder: it is quarantined at once.
    config = make_node(tmp_path, [{"name": "ghost"}])
    backend = SimBackend(config.sim)
    node = Node(config, backend=backend)
    async with node.bus.subscribe() as events, node:
        async with asyncio.timeout(10):
            while node.supervisor.runners["ghost"].state != "quarantined":
                await events.get()

        def outbox() -> dict[str, float]:
            return {"outbox_rows": 12.0, "outbox_dropped_total": 3.0}

        def broken() -> dict[str, float]:
            raise RuntimeError("a provider that fails")

        content_type, families = await scrape(node, outbox, broken)
    backend.close()

    assert content_type.startswith("text/plain; version=0.0.4")
    states = {s.labels["state"]: s.value for s in families["harvester_plugin_state"]}
    assert states == {
        "starting": 0.0,
        "running": 0.0,
        "backoff": 0.0,
        "quarantined": 1.0,
        "stopped": 0.0,
    }
    (restarts,) = families["harvester_plugin_restarts"]
    assert (restarts.name, restarts.labels, restarts.value) == (
        "harvester_plugin_restarts_total",
        {"node": "test-node", "plugin": "ghost"},
        0.0,
    )
    assert families["harvester_plugin_polls"][0].value == 0.0
    (info,) = families["harvester_plugin_info"]  # 0.0.4 has no info type: a gauge of 1
    assert (info.labels, info.value) == ({"node": "test-node", "plugin": "ghost", "version": ""}, 1)
    (rows,) = families["harvester_outbox_rows"]
    assert (rows.labels, rows.value) == ({"node": "test-node"}, 12.0)
    (dropped,) = families["harvester_outbox_dropped"]  # a counter: the parser strips _total
    assert (dropped.name, dropped.value) == ("harvester_outbox_dropped_total", 3.0)


async def test_a_running_sensor_shows_its_version_and_polls(plugin_dir: Path) -> None:
    config = make_node(plugin_dir, [BME680_PLUGIN])
    backend = SimBackend(config.sim)
    node = Node(config, backend=backend)
    async with node.bus.subscribe() as events, node:
        async with asyncio.timeout(30):
            while node.supervisor.runners["bme680"].polls < 2:
                await events.get()
        _, families = await scrape(node)
    backend.close()
    running = [s for s in families["harvester_plugin_state"] if s.value == 1]
    assert [s.labels["state"] for s in running] == ["running"]
    (info,) = families["harvester_plugin_info"]
    assert len(info.labels["version"]) == 16  # the component's content hash
    assert families["harvester_plugin_polls"][0].value >= 2
