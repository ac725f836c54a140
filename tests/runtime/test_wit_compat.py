"""A component built against WIT 1.0 (before leds, buzzer, node-readings and actuators)
still runs on this 1.1 host: the real dht22 plugin, built by componentize-py against the
1.0 contract kept in tests/data/wit-1.0, is polled for readings in a node."""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime

from harvester.build import build_plugin
from harvester.config import Grants
from harvester.constants import WIT_PACKAGE, current_interface
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.host_api import ungranted_imports
from harvester.runtime.plugin import component_imports
from tests.conftest import ARTIFACTS, BUILD_CACHE, ROOT, make_node, running

WIT_1_0 = ROOT / "tests" / "data" / "wit-1.0"


@pytest.fixture(scope="module")
def built_for_1_0(plugin_dir: Path) -> Path:  # plugin_dir: the same build session
    out = ROOT / "build" / "wit-1.0"
    built = build_plugin(
        ROOT / "plugins" / "dht22", out_dir=out, cache_dir=BUILD_CACHE, wit_dir=WIT_1_0
    )
    ArtifactCache(ARTIFACTS).ensure(built.output, plugin="dht22")
    return out


def test_the_fixture_really_is_a_1_0_component(
    built_for_1_0: Path, engine: wasmtime.Engine
) -> None:
    component = ArtifactCache(ARTIFACTS).load(engine, built_for_1_0 / "dht22.wasm", plugin="dht22")
    ours = [n for n in component_imports(engine, component) if n.startswith(WIT_PACKAGE)]
    assert ours and all(n.endswith("@1.0.0") for n in ours)


async def test_a_1_0_component_is_linked_and_polled(built_for_1_0: Path) -> None:
    plugin = {"name": "dht22", "poll_interval_s": 0.05, "grants": {"dht22": [4]}}
    sim = {"time_scale": 0, "dht22": [{"pin": 4, "temperature_c": 17.5, "failure_rate": 0}]}
    config = make_node(built_for_1_0, [plugin], sim=sim)
    async with running(config) as node:
        event = await node.wait_for(lambda e: bool(node.readings("dht22")))
        assert event is not None
        values = {r.metric: r.value for r in node.readings("dht22")[0].readings}
        assert abs(values["temperature"] - 17.5) <= 0.5


@pytest.mark.parametrize(
    "name,ours",
    [
        ("harvester:plugin/i2c@1.0.0", True),
        ("harvester:plugin/i2c@1.1.0", True),
        ("harvester:plugin/i2c@1.2.0", True),
        ("harvester:plugin/i2c@1.3.0", False),  # newer than this host: not served
        ("harvester:plugin/i2c@2.0.0", False),
    ],
)
def test_which_versions_this_host_serves(name: str, ours: bool) -> None:
    granted = Grants.model_validate({"i2c": [{"bus": 1, "addresses": [0x77]}]})
    assert (ungranted_imports([name], granted) == []) is ours
    assert (current_interface(name) != name or name.endswith("@1.2.0")) is ours
