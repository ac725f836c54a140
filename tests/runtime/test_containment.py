"""Hostile plugins, each a real componentize-py build, beside a well-behaved bme680.

For each: the host stays up, the bme680 keeps polling with correct values, and the
hostile plugin is stopped, restarted or quarantined as designed, with a clear log line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from harvester.constants import LOG_BURST
from harvester.node.events import Event, LogEvent, ReadingsEvent
from tests.conftest import BME680_PLUGIN, RecordingDevice, make_node, running, state_is

pytestmark = pytest.mark.wasm

RESTART = {"backoff_initial_s": 0.02, "backoff_max_s": 0.1, "max_faults": 3, "fault_window_s": 60}
GOOD_POLLS_DURING = 5  # the neighbour must keep polling while the hostile plugin misbehaves


def host_log(pattern: str):
    regex = re.compile(pattern)

    def matches(event: Event) -> bool:
        return (
            isinstance(event, LogEvent)
            and event.plugin == "hostile"
            and event.origin == "host"
            and bool(regex.search(event.message))
        )

    return matches


@dataclass(frozen=True)
class Case:
    plugin: str
    # What the host must say about it (a regex over its host log lines).
    says: str
    quarantine: bool


DEADLINE = r"timeout: call exceeded its deadline"
TOO_MUCH = r"trap: too much data is being copied between the host and the guest"

CASES = [
    Case("loop-forever", r"timeout: call exceeded its deadline", True),
    Case("alloc-unbounded", r"out-of-memory", True),
    Case("raises", r"internal-error: unexpected exception: RuntimeError: boom", True),
    Case("recurse", r"trap: stack overflow: wasm trap: call stack exhausted", True),
    # WASI p2's exit carries only ok/err, so os._exit(3) arrives as exit(1).
    Case("exit-process", r"trap: guest called exit\(1\)", True),
    Case("sleep-forever", r"timeout: call exceeded its deadline", True),
    # time.sleep waits in WASI, out of the epoch's reach: the host refuses the wait.
    Case("wasi-sleep", r"trap: wasi:clocks/monotonic-clock@[\d.]+#subscribe-\w+ is denied", True),
    Case("bad-metrics", r"contract: metric name '\.\./\.\./harvester/hub/cmd/#'", True),
    # Either the deadline stops the guest while it builds the data, or wasmtime's bound on
    # what one call may copy across the boundary ("hostcall fuel") traps it; a guest that
    # runs out of memory on the way traps too. All are faults that end in quarantine.
    Case("huge-result", rf"({DEADLINE}|{TOO_MUCH}|trap: )", True),
    Case("huge-write", rf"({DEADLINE}|{TOO_MUCH}|trap: )", True),
    # Undescribed or non-finite readings are dropped, in one line per poll, not one each.
    Case(
        "bogus-readings",
        r"^dropped 1001 readings \(not described or not finite\): value=nan, ghost=0\.0, "
        r"ghost=1\.0, ghost=2\.0, ghost=3\.0 and 996 more$",
        False,
    ),
    Case("ungranted-i2c", r"poll failed: hal: not-granted: i2c bus 1 address 0x50", False),
    Case(
        "absurd-read", r"poll failed: hal: other: read of 4294967295 bytes exceeds the limit", False
    ),
]


def hostile_config(plugin_dir: Path, plugin: str):
    hostile = {
        "name": "hostile",
        "component": plugin,
        "poll_interval_s": 0.05,
        "limits": {"memory_mb": 64, "call_timeout_ms": 500},
        # Granted the bme680's address, as a trojan "bme680 plugin" would be.
        "grants": {"i2c": [{"bus": 1, "addresses": [0x77]}]},
    }
    return make_node(plugin_dir, [BME680_PLUGIN, hostile], restart=RESTART)


def assert_neighbour_healthy(node, since: int) -> None:
    good = [e for e in node.events[since:] if isinstance(e, ReadingsEvent) and e.plugin == "bme680"]
    assert len(good) >= GOOD_POLLS_DURING, f"bme680 polled only {len(good)} times"
    for event in good:
        temperature = next(r.value for r in event.readings if r.metric == "temperature")
        assert abs(temperature - 23.0) <= 0.5
    assert node.supervisor.runners["bme680"].state == "running"
    assert node.supervisor.runners["bme680"].instances_started == 1


async def neighbour_polls_on(node) -> None:
    """After the hostile plugin's worst, the bme680 goes on polling correct values."""
    mark = len(node.events)
    target = len(node.readings("bme680")) + GOOD_POLLS_DURING
    await node.wait_for(lambda e: len(node.readings("bme680")) >= target)
    assert_neighbour_healthy(node, mark)


@pytest.mark.parametrize("case", CASES, ids=[c.plugin for c in CASES])
async def test_hostile_plugin_is_contained(plugin_dir: Path, case: Case) -> None:
    config = hostile_config(plugin_dir, case.plugin)
    async with running(config) as node:
        await node.wait_for(host_log(case.says))
        if case.quarantine:
            event = await node.wait_for(state_is("quarantined", "hostile"))
            assert "quarantined after 3 faults" in event.reason
            assert node.supervisor.runners["hostile"].instances_started <= 3
        else:
            # A refused call is an error result, not a fault: the same instance keeps going.
            await node.wait_for(lambda e: node.supervisor.runners["hostile"].polls >= 5)
            assert node.supervisor.runners["hostile"].instances_started == 1
        await neighbour_polls_on(node)


@pytest.mark.parametrize("plugin", ["read-file", "open-socket"])
async def test_file_and_network_probes_get_nothing(plugin_dir: Path, plugin: str) -> None:
    """Every file path and every socket call is tried, in the guest, each poll: all fail."""
    async with running(hostile_config(plugin_dir, plugin)) as node:
        event = await node.wait_for(
            lambda e: isinstance(e, ReadingsEvent) and e.plugin == "hostile"
        )
        await neighbour_polls_on(node)
    assert [(r.metric, r.value) for r in event.readings] == [("value", 0.0)]
    said = [e.message for e in node.logs("hostile") if e.origin == "plugin"]
    assert said and not any("ALLOWED" in m for m in said)
    if plugin == "open-socket":  # refused by the host's own answers, and logged by it
        for call in ("create-tcp-socket", "create-udp-socket", "resolve-addresses"):
            assert f"{call}: denied (access-denied)" in said
        refusals = [e.message for e in node.logs("hostile") if e.origin == "host"]
        assert "refused: network (tcp socket) is not granted" in refusals
        assert "refused: name lookup is not granted" in refusals


async def test_only_described_finite_readings_are_published(plugin_dir: Path) -> None:
    async with running(hostile_config(plugin_dir, "bogus-readings")) as node:
        await node.wait_for(lambda e: len(node.readings("hostile")) >= 3)
        host_lines = [e for e in node.logs("hostile") if e.origin == "host"]
    for event in node.readings("hostile"):
        assert [(r.metric, r.value) for r in event.readings] == [("value", 2.0)]
    assert len(host_lines) <= node.supervisor.runners["hostile"].polls  # one per poll at most


async def test_no_traffic_reaches_an_ungranted_device(plugin_dir: Path) -> None:
    config = hostile_config(plugin_dir, "ungranted-i2c")
    async with running(config) as node:
        eeprom = RecordingDevice()
        node.backend.bus(1).attach(0x50, eeprom)
        await node.wait_for(host_log(r"not-granted: i2c bus 1 address 0x50"))
        await node.wait_for(lambda e: node.supervisor.runners["hostile"].polls >= 3)
    assert eeprom.messages == []
    # The refusal is in the plugin's log, named once however often it is repeated.
    refusals = [e.message for e in node.logs("hostile") if e.message.startswith("refused")]
    assert refusals[0] == "refused: i2c bus 1 address 0x50 is not granted"
    assert refusals[1:] == ["refused 1 more accesses to resources not granted"] * (
        len(refusals) - 1
    )


async def test_environment_is_empty_inside_the_sandbox(plugin_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("HARVESTER_CANARY", "secret-token")
    config = hostile_config(plugin_dir, "read-env")
    async with running(config) as node:
        event = await node.wait_for(
            lambda e: isinstance(e, ReadingsEvent) and e.plugin == "hostile"
        )
    assert [(r.metric, r.value) for r in event.readings] == [("value", 0.0)]


async def test_log_flood_is_rate_limited(plugin_dir: Path) -> None:
    config = hostile_config(plugin_dir, "log-flood")
    async with running(config) as node:
        await node.wait_for(host_log(r"log rate limit: dropped \d+ lines"))
        await node.wait_for(lambda e: node.supervisor.runners["hostile"].polls >= 3)
        plugin_lines = [e for e in node.logs("hostile") if e.origin == "plugin"]
        dropped = sum(
            int(m.group(1))
            for e in node.logs("hostile")
            if (m := re.search(r"dropped (\d+) lines", e.message))
        )
        assert_neighbour_healthy(node, 0)
    # 3 polls wrote 18,000 lines; the bucket lets through its burst plus a trickle.
    assert len(plugin_lines) < LOG_BURST + 100
    assert dropped > 10_000
    assert all(len(e.message) <= 1100 for e in plugin_lines)


@pytest.mark.parametrize("plugin", ["huge-result", "huge-write"])
async def test_wasmtime_bounds_the_data_one_call_may_copy(plugin_dir: Path, plugin: str) -> None:
    # Time and memory enough that neither stops the plugin first: the copy bound must.
    config = hostile_config(plugin_dir, plugin).model_copy(deep=True)
    roomy = config.plugins[1].model_copy(
        update={"limits": config.plugins[1].limits.model_copy(
            update={"memory_mb": 256, "call_timeout_ms": 10_000}
        )}
    )  # fmt: skip
    config = config.model_copy(update={"plugins": (config.plugins[0], roomy)})
    async with running(config) as node:
        await node.wait_for(host_log(TOO_MUCH))
        await node.wait_for(state_is("quarantined", "hostile"))
        await neighbour_polls_on(node)
