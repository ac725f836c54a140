"""The per-plugin log: a token bucket that counts and reports what it drops."""

from __future__ import annotations

import asyncio
import threading

from harvester.constants import LOG_BURST, LOG_MAX_MESSAGE
from harvester.node.events import EventBus, LogEvent
from harvester.node.plugin_log import PluginLog


async def collect(bus: EventBus, action) -> list[LogEvent]:
    async with bus.subscribe() as queue:
        action()  # on the loop's own thread, publishing delivers at once
        events = []
        while not queue.empty():
            events.append(queue.get_nowait())
        return events


async def test_a_flood_is_cut_to_the_burst_and_the_drop_is_reported() -> None:
    bus = EventBus("n1")
    log = PluginLog("p", bus)

    def flood() -> None:
        for i in range(LOG_BURST + 500):
            log.plugin_said("info", f"line {i}")
        log.flush()

    events = await collect(bus, flood)
    plugin_lines = [e for e in events if e.origin == "plugin"]
    host_lines = [e.message for e in events if e.origin == "host"]
    # A trickle may refill while the loop runs; the burst is the bulk of what passes.
    assert LOG_BURST <= len(plugin_lines) < LOG_BURST + 5
    dropped = LOG_BURST + 500 - len(plugin_lines)
    assert host_lines == [f"log rate limit: dropped {dropped} lines from this plugin"]


async def test_long_lines_are_truncated_saying_how_long_they_were() -> None:
    bus = EventBus("n1")
    log = PluginLog("p", bus)
    (event,) = await collect(bus, lambda: log.plugin_said("warn", "x" * 50_000))
    assert event.message.startswith("x" * LOG_MAX_MESSAGE)
    assert event.message.endswith("... [50000 chars, truncated]")
    assert event.level == "warn"


async def test_host_lines_are_never_rate_limited() -> None:
    bus = EventBus("n1")
    log = PluginLog("p", bus)

    def lots() -> None:
        for i in range(LOG_BURST * 3):
            log.host_says("warn", f"host {i}")

    events = await collect(bus, lots)
    assert len(events) == LOG_BURST * 3


async def test_events_published_from_worker_threads_arrive_in_order() -> None:
    bus = EventBus("n1")
    async with bus.subscribe() as queue:
        thread = threading.Thread(
            target=lambda: [bus.publish(LogEvent("p", "info", str(i), "plugin")) for i in range(50)]
        )
        thread.start()
        await asyncio.to_thread(thread.join)
        got = [(await asyncio.wait_for(queue.get(), 5)).message for _ in range(50)]
    assert got == [str(i) for i in range(50)]


def test_publishing_after_the_loop_closed_is_harmless() -> None:
    loop = asyncio.new_event_loop()
    bus = EventBus("n1", loop=loop)
    loop.close()
    bus.publish(LogEvent("p", "info", "late line from a worker thread", "plugin"))


async def test_host_lines_quoting_the_plugin_are_clipped_too() -> None:
    bus = EventBus("n1")
    log = PluginLog("p", bus)
    (event,) = await collect(bus, lambda: log.host_says("warn", "poll failed: " + "y" * 100_000))
    assert len(event.message) < LOG_MAX_MESSAGE + 50
    assert event.message.endswith("[100013 chars, truncated]")


async def test_refusals_are_named_once_then_counted() -> None:
    bus = EventBus("n1")
    log = PluginLog("p", bus)

    def probe() -> None:
        for _ in range(1000):
            log.refused("i2c bus 1 address 0x50")
        log.refused("gpio 18")
        log.flush()

    events = await collect(bus, probe)
    assert [e.message for e in events] == [
        "refused: i2c bus 1 address 0x50 is not granted",
        "refused: gpio 18 is not granted",
        "refused 999 more accesses to resources not granted",
    ]
    assert all(e.origin == "host" and e.level == "warn" for e in events)
