"""Shared fixtures: real componentize-py builds of every plugin, precompiled once per session.

Builds are cached by content hash in .harvester/builds and artifacts by content + engine
in .harvester/artifacts, so only the first run on a machine pays for compiling.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from harvester.build import find_plugins
from harvester.build.prepare import prepare_plugins
from harvester.config import NodeConfig
from harvester.hal.sim.backend import SimBackend
from harvester.node.events import Event, EventBus, LogEvent, ReadingsEvent, StateEvent
from harvester.node.runner import RunnerClock
from harvester.node.supervisor import Supervisor
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.hub_data import HubData

ROOT = Path(__file__).resolve().parents[1]
BUILD_CACHE = ROOT / ".harvester" / "builds"
ARTIFACTS = ROOT / ".harvester" / "artifacts"
TEST_BUILDS = ROOT / "build" / "test-plugins"
HOSTILE = ROOT / "tests" / "plugins" / "hostile"


@pytest.fixture(scope="session")
def plugin_dir(request: pytest.FixtureRequest) -> Path:
    """Every plugin (plugins/* and the hostile test plugins) built and precompiled."""
    folders = find_plugins(ROOT / "plugins") + find_plugins(HOSTILE)
    cache = ArtifactCache(ARTIFACTS)
    # A cold cache takes minutes: say what is happening instead of sitting silent.
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def say(line: str) -> None:
        with capture.global_and_fixture_disabled():
            print(line, flush=True)

    say(f"building and precompiling {len(folders)} plugins (cached by content hash)")

    prepare_plugins(
        folders, out_dir=TEST_BUILDS, build_cache=BUILD_CACHE, artifacts=cache, report=say
    )
    return TEST_BUILDS


def make_node(plugin_dir: Path, plugins: list[dict[str, Any]], **node: Any) -> NodeConfig:
    """A node config as a test wants it: sim backend, instant device timing."""
    raw: dict[str, Any] = {
        "name": "test-node",
        "plugin_dir": plugin_dir,
        "cache_dir": ARTIFACTS,
        "sim": {
            "time_scale": 0,
            "i2c": [{"device": "bme680", "bus": 1, "address": 0x77, "temperature_c": 23.0}],
        },
        "plugins": plugins,
        **node,
    }
    return NodeConfig.model_validate(raw)


BME680_PLUGIN: dict[str, Any] = {
    "name": "bme680",
    "poll_interval_s": 0.05,
    "grants": {"i2c": [{"bus": 1, "addresses": [0x77]}]},
}


class RecordingDevice:
    """An I2C device that records its messages and answers 0, 1, 2, ..."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, object]] = []

    def write(self, data: bytes) -> None:
        self.messages.append(("write", data))

    def read(self, length: int) -> bytes:
        self.messages.append(("read", length))
        return bytes(range(length))


def state_is(state: str, plugin: str | None = None) -> Callable[[Event], bool]:
    """A predicate for `wait_for`: `plugin` (any, if None) entered `state`."""

    def matches(event: Event) -> bool:
        return (
            isinstance(event, StateEvent)
            and event.state == state
            and (plugin is None or event.plugin == plugin)
        )

    return matches


class ManualClock:
    """A runner clock that only moves when the runner sleeps: back-off and cadence become
    exact figures, and a test runs as fast as the plugin calls allow."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)  # let the rest of the node run


class RunningNode:
    """A supervisor under test, with every event it published kept in order."""

    def __init__(self, supervisor: Supervisor, bus: EventBus, backend: SimBackend) -> None:
        self.supervisor = supervisor
        self.bus = bus
        self.backend = backend
        self.events: list[Event] = []
        self.timed: list[tuple[float, Event]] = []  # with the runners' clock's time
        self.changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 60) -> Event:
        """The first event so far, or from now on, that satisfies `predicate`."""
        seen = 0
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                self.changed.clear()
                await self.changed.wait()

    def readings(self, plugin: str) -> list[ReadingsEvent]:
        return [e for e in self.events if isinstance(e, ReadingsEvent) and e.plugin == plugin]

    def logs(self, plugin: str) -> list[LogEvent]:
        return [e for e in self.events if isinstance(e, LogEvent) and e.plugin == plugin]


@asynccontextmanager
async def running(
    config: NodeConfig,
    backend: SimBackend | None = None,
    clock: RunnerClock | None = None,
    hub_data: HubData | None = None,
) -> AsyncIterator[RunningNode]:
    """The supervisor of `config` running, its events recorded (with `hub_data` as the
    node's provider, for plugins granted it)."""
    bus = EventBus(config.name)
    backend = backend or SimBackend(config.sim)
    async with bus.subscribe() as queue:
        async with Supervisor(
            config, backend=backend, bus=bus, clock=clock, hub_data=hub_data
        ) as supervisor:
            node = RunningNode(supervisor, bus, backend)
            now = clock.now if clock else asyncio.get_running_loop().time

            async def record() -> None:
                while True:
                    event = await queue.get()
                    node.events.append(event)
                    node.timed.append((now(), event))
                    node.changed.set()

            recorder = asyncio.create_task(record())
            try:
                yield node
            finally:
                recorder.cancel()


@pytest.fixture(scope="session")
def engine():
    """One Engine for the session, with its epoch ticker running (as in a node)."""
    from harvester.runtime.engine import EpochTicker, make_engine

    engine = make_engine()
    with EpochTicker(engine):
        yield engine


@pytest.fixture
def instantiate(plugin_dir: Path, engine):
    """Make a PluginInstance of a built component directly, without a supervisor; returns its
    sensor export, or the `export` asked for (`.instance` is the instance)."""
    from harvester.config import Grants, Limits
    from harvester.hal import PluginHal
    from harvester.node.plugin_log import PluginLog
    from harvester.runtime.plugin import PluginInstance
    from harvester.runtime.sensor import SensorExport

    cache = ArtifactCache(ARTIFACTS)
    # Plugin logs publish to this loop; it never runs: these tests read results directly.
    loop = asyncio.new_event_loop()
    bus = EventBus("test-node", loop=loop)

    def make(
        component: str,
        backend: SimBackend,
        grants: dict[str, Any] | None = None,
        *,
        readings: Any = None,
        export: Any = None,
        **limits: Any,
    ):
        """`readings`: the node's latest readings (a hal NodeReadings), for a display;
        `export`: the export wrapper to return (default SensorExport)."""
        granted = Grants.model_validate(grants or {"i2c": [{"bus": 1, "addresses": [0x77]}]})
        plugin_log = PluginLog(component, bus)
        instance = PluginInstance(
            name=component,
            engine=engine,
            component=cache.load(engine, plugin_dir / f"{component}.wasm", plugin=component),
            hal=PluginHal(backend, granted, on_refusal=plugin_log.refused, readings=readings),
            grants=granted,
            limits=Limits(**limits),
            guest_log=plugin_log,
        )
        wrapper = instance.export(export or SensorExport)
        assert wrapper is not None, f"{component} exports no {(export or SensorExport).__name__}"
        return wrapper

    yield make
    loop.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Whatever needs the real plugin builds is `wasm`, marked or not (`-m "not wasm"`)."""
    for item in items:
        if "plugin_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.wasm)


HTTP_PLUGINS = ROOT / "tests" / "plugins" / "http"


@pytest.fixture(scope="session")
def http_plugin_dir() -> Path:
    """The HTTP handler test plugins (tests/plugins/http/*) built and precompiled, alone:
    the web and HTTP tests need only these, not every plugin of the repository."""
    prepare_plugins(
        find_plugins(HTTP_PLUGINS),
        out_dir=TEST_BUILDS,
        build_cache=BUILD_CACHE,
        artifacts=ArtifactCache(ARTIFACTS),
        report=lambda line: None,
    )
    return TEST_BUILDS
