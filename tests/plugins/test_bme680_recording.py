"""The bme680 plugin, sandboxed, against recordings and injected faults: a replay gives the
recorded readings exactly; a fault on one transfer costs one poll, not the instance; a
corrupted answer is an error the driver reports, never a crash."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harvester.config import SimConfig
from harvester.hal.sim.backend import SimBackend
from harvester.hal.sim.bme680 import Bme680Sim
from harvester.hal.tap import FaultInjector, tap
from harvester.node.events import Event, LogEvent, ReadingsEvent
from harvester.runtime.errors import PluginReportedError
from tests.conftest import BME680_PLUGIN, ROOT, make_node, running

pytestmark = pytest.mark.wasm

SHIPPED = ROOT / "plugins" / "bme680" / "recordings" / "sim-23c.jsonl"
# Transfers the driver makes in init (chip id, reset, calibration, settings) and per poll
# (forced-mode write, field read, the field read again to check it): the 20th is the first
# of the second poll.
INIT_TRANSFERS = 16
SECOND_POLL_FIRST = INIT_TRANSFERS + 3 + 1


def noisy_sim() -> dict[str, Any]:
    """A BME680 whose every poll differs, so equal readings mean the same answers in order."""
    return {
        "time_scale": 0,
        "seed": 5,
        "i2c": [{"device": "bme680", "temperature_c": 23.0, "noise": {}}],
    }


def polls(events: list[Event], plugin: str = "bme680") -> list[dict[str, float]]:
    return [
        {r.metric: r.value for r in e.readings}
        for e in events
        if isinstance(e, ReadingsEvent) and e.plugin == plugin
    ]


def nth_readings(n: int, plugin: str = "bme680") -> Callable[[Event], bool]:
    """A predicate for `wait_for`: the plugin's n-th readings event."""
    seen = [0]

    def matches(event: Event) -> bool:
        if isinstance(event, ReadingsEvent) and event.plugin == plugin:
            seen[0] += 1
        return seen[0] >= n

    return matches


async def test_a_replay_gives_exactly_the_readings_recorded(plugin_dir: Path, tmp_path: Path):
    path = tmp_path / "bme680.jsonl"
    config = make_node(plugin_dir, [BME680_PLUGIN | {"record": path}], sim=noisy_sim())
    async with running(config) as node:
        await node.wait_for(nth_readings(5))
        recorded = polls(node.events)[:5]
    assert len({json.dumps(p) for p in recorded}) == 5  # five different polls

    # Replayed on a node whose own BME680 would say something else (another seed, 30 °C).
    other = noisy_sim() | {"seed": 99, "i2c": [{"device": "bme680", "temperature_c": 30.0}]}
    config = make_node(plugin_dir, [BME680_PLUGIN | {"replay": path}], sim=other)
    async with running(config) as node:
        await node.wait_for(nth_readings(5))
        replayed = polls(node.events)[:5]
        assert node.supervisor.runners["bme680"].instances_started == 1
    assert replayed == recorded  # the same floats, bit for bit


async def test_the_shipped_recording_replays_to_the_readings_kept_with_it(plugin_dir: Path):
    expected = json.loads(SHIPPED.with_suffix(".readings.json").read_text())["polls"]
    assert len(expected) >= 5
    config = make_node(plugin_dir, [BME680_PLUGIN | {"replay": SHIPPED}])
    async with running(config) as node:
        await node.wait_for(nth_readings(len(expected)))
        assert polls(node.events)[: len(expected)] == expected
        # One more poll than was recorded: the plugin is told what the recording lacks.
        failed = await node.wait_for(
            lambda e: isinstance(e, LogEvent) and e.message.startswith("poll failed")
        )
    assert isinstance(failed, LogEvent)
    assert failed.message.startswith(
        "poll failed: hal: other: replay: no recorded answer for i2c bus 1 0x77 write 74"
    )


async def test_no_acknowledge_on_one_transfer_fails_that_poll_and_the_next_recovers(
    plugin_dir: Path,
):
    fault = {"kind": "no-acknowledge", "address": 0x77, "nth": SECOND_POLL_FIRST}
    config = make_node(plugin_dir, [BME680_PLUGIN | {"faults": [fault]}])
    async with running(config) as node:
        await node.wait_for(nth_readings(3))
        runner = node.supervisor.runners["bme680"]
        assert runner.instances_started == 1  # not restarted
    story = [
        "readings" if isinstance(e, ReadingsEvent) else e.message
        for e in node.events
        if isinstance(e, ReadingsEvent) or (isinstance(e, LogEvent) and e.origin == "host")
    ]
    assert story[:4] == [
        "readings",
        f"injected fault: no-acknowledge on i2c bus 1 0x77 write 748d read 0"
        f" (call {SECOND_POLL_FIRST} of rule nth = {SECOND_POLL_FIRST})",
        "poll failed: hal: no-acknowledge: address",
        "readings",
    ]


async def test_a_corrupted_chip_id_is_caught_by_the_driver_and_the_restart_succeeds(
    plugin_dir: Path,
):
    fault = {"kind": "corrupt", "nth": 1, "seed": 1}  # the first read: the chip id
    config = make_node(plugin_dir, [BME680_PLUGIN | {"faults": [fault]}])
    config = config.model_copy(
        update={"restart": config.restart.model_copy(update={"backoff_initial_s": 0.01})}
    )
    async with running(config) as node:
        await node.wait_for(nth_readings(1))
    messages = [e.message for e in node.logs("bme680") if e.origin == "host"]
    refused = next(m for m in messages if "unexpected chip id" in m)
    assert refused.startswith(
        "fault: init failed: no-device: bus 1 address 0x77: unexpected chip id"
    )
    assert "0x61" in refused.split("unexpected chip id")[1]  # "(BME680 is 0x61)"


def corrupting(instantiate, **rule: Any) -> tuple[Any, list[str]]:
    """The bme680 plugin, initialised, whose reads from then on are corrupted per `rule`."""
    backend = SimBackend(SimConfig(time_scale=0))
    backend.bus(1).attach(0x77, Bme680Sim(backend.clock))
    told: list[str] = []
    injector = FaultInjector([_rule(kind="corrupt", **rule)], told.append)
    armed = [False]

    def after_init(call, proceed):  # corrupt only the polls' reads, not init's
        return injector(call, proceed) if armed[0] else proceed()

    plugin = instantiate("bme680", tap(backend, after_init))
    plugin.init({})
    armed[0] = True
    return plugin, told


def test_a_corrupted_measurement_is_invalid_data_and_the_next_poll_is_fine(instantiate) -> None:
    """A poll reads the field registers twice; one flipped bit in either read is caught."""
    plugin, told = corrupting(instantiate, nth=1, seed=3)  # the first poll's first read
    with pytest.raises(PluginReportedError) as caught:
        plugin.poll()
    assert caught.value.kind == "invalid-data"
    assert "read twice differ" in caught.value.detail
    assert len(told) == 1
    values = {r.metric: r.value for r in plugin.poll()}
    assert abs(values["temperature"] - 25.0) < 1


def test_corrupted_measurements_are_caught_not_crashes_nor_wrong_readings(instantiate) -> None:
    """Reads corrupted at random (a third of them), 60 polls: each poll gives right
    readings or reports invalid data; nothing traps, and no flipped bit gets through."""
    plugin, told = corrupting(instantiate, probability=0.3, seed=8)
    clean = {"temperature": 25.0, "pressure": 1013.25, "humidity": 40.0}
    kinds: dict[str, int] = {}
    for _ in range(60):
        try:
            got = {r.metric: r.value for r in plugin.poll()}
        except PluginReportedError as exc:
            kinds[exc.kind] = kinds.get(exc.kind, 0) + 1
            continue
        outcome = (
            "wrong readings" if any(abs(got[m] - v) > 1 for m, v in clean.items()) else "readings"
        )
        kinds[outcome] = kinds.get(outcome, 0) + 1
    assert len(told) >= 20
    assert kinds.get("invalid-data", 0) >= 20 and kinds.get("readings", 0) >= 10, kinds
    assert set(kinds) == {"readings", "invalid-data"}, kinds


def _rule(**fields: Any):
    from harvester.config import FaultRule

    return FaultRule(**fields)
