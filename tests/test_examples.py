"""Every node config in examples/ loads, says what its node is, and the small ones run."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from harvester.config import load_node_config
from harvester.constants import NATIVE_MONITOR
from harvester.node.events import Event, ReadingsEvent
from harvester.node.native_monitor import NativeMonitor
from harvester.node.node import run_node
from tests.conftest import ARTIFACTS, ROOT

EXAMPLES = ROOT / "examples"
PI4_PLUGINS = ["bme680", "dht22", "oled", "pi4-monitor", "pi4-actuator"]


def test_every_example_is_tested() -> None:
    tested = {
        "sim-node.toml", "pi4.toml", "revpi.toml", "pizero.toml", "cluster.toml",
        "deploy/spoke.toml", "deploy/hub.toml", "deploy/pizero.toml", "deploy/cluster.toml",
    }  # fmt: skip
    assert {str(p.relative_to(EXAMPLES)) for p in EXAMPLES.rglob("*.toml")} == tested


@pytest.mark.parametrize("name", ["pi4.toml", "deploy/spoke.toml"])
def test_the_reference_spoke(name: str) -> None:
    config = load_node_config(EXAMPLES / name)
    assert [p.name for p in config.plugins] == PI4_PLUGINS
    plugins = {p.name: p for p in config.plugins}
    assert plugins["bme680"].grants.allows_i2c(1, 0x77)
    assert plugins["oled"].grants.allows_i2c(1, 0x3C) and plugins["oled"].grants.readings
    assert plugins["dht22"].grants.dht22 == (4,)
    assert plugins["pi4-monitor"].grants.system_info
    actuator = plugins["pi4-actuator"].grants
    assert actuator.led_pixels(0) == 8 and actuator.buzzer == (13,)
    if config.backend == "sim":
        assert {(d.device, d.bus, d.address) for d in config.sim.i2c} == {
            ("bme680", 1, 0x77),
            ("ssd1306", 1, 0x3C),
        }
        assert [d.pin for d in config.sim.dht22] == [4]
        assert [(s.strip, s.pixels, s.pin) for s in config.sim.leds] == [(0, 8, 18)]
        assert [(b.pin, b.kind) for b in config.sim.buzzer] == [(13, "pwm")]
    else:
        assert [(s.strip, s.gpio, s.pixels) for s in config.linux.leds] == [(0, 18, 8)]
        assert [(b.pin, b.kind) for b in config.linux.buzzer] == [(13, "pwm")]


def test_the_sim_and_linux_spokes_run_the_same_plugins() -> None:
    def plugins(name: str) -> list[tuple[object, ...]]:
        return [(p.name, p.grants, p.settings) for p in load_node_config(EXAMPLES / name).plugins]

    assert plugins("pi4.toml") == plugins("deploy/spoke.toml")


async def test_the_pizero_runs_only_the_native_monitor() -> None:
    config = load_node_config(EXAMPLES / "pizero.toml")
    assert config.plugins == () and config.native.monitor
    config = config.model_copy(update={"cache_dir": ARTIFACTS})
    seen: list[Event] = []
    stop = asyncio.Event()

    def on_event(event: Event) -> None:
        seen.append(event)
        if isinstance(event, ReadingsEvent):
            stop.set()

    await asyncio.wait_for(run_node(config, stop=stop, on_event=on_event), 30)
    (first, *_) = [e for e in seen if isinstance(e, ReadingsEvent)]
    assert first.plugin == NATIVE_MONITOR
    assert {r.metric for r in first.readings} == {m.name for m in NativeMonitor.describe()}
    temp = next(r.value for r in first.readings if r.metric == "soc_temperature")
    assert abs(temp - config.sim.cpu_temp_c) < 3.0


async def test_the_hub_reports_its_health(plugin_dir: Path) -> None:
    config = load_node_config(EXAMPLES / "revpi.toml")
    assert config.role == "hub"
    assert [p.name for p in config.plugins] == ["revpi-monitor", "dashboard"]
    config = config.model_copy(update={"plugin_dir": plugin_dir, "cache_dir": ARTIFACTS})
    seen: list[ReadingsEvent] = []
    stop = asyncio.Event()

    def on_event(event: Event) -> None:
        if isinstance(event, ReadingsEvent):
            seen.append(event)
            stop.set()

    await asyncio.wait_for(run_node(config, stop=stop, on_event=on_event), 120)
    values = {r.metric: r.value for r in seen[0].readings}
    assert seen[0].plugin == "revpi-monitor"
    assert abs(values["soc_temperature"] - config.sim.cpu_temp_c) < 3.0


def test_the_deployed_cluster_joins_every_node_to_the_hubs_mosquitto() -> None:
    from harvester.config.cluster import join, load_cluster_config

    cluster = load_cluster_config(EXAMPLES / "deploy" / "cluster.toml")
    assert cluster.broker.kind == "mosquitto" and cluster.hub.address == "192.168.7.1"
    for member in cluster.nodes:
        config = join(load_node_config(member.config), cluster)
        assert config.backend == "linux" and config.role == member.role
        assert (config.broker.host, config.broker.port) == ("192.168.7.1", 1883)
    hub = join(load_node_config(cluster.hub.config), cluster).hub_settings
    assert hub.broker == "external" and hub.web.port == 3000
