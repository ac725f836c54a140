"""The event bus: node name and sequence stamped in delivery order; bounded subscribers."""

from __future__ import annotations

import asyncio
import threading

from harvester.constants import DeviceClass, LogLevel, StateClass
from harvester.node.events import EventBus, LogEvent, Reading, ReadingsEvent, StateEvent


def drain(subscription) -> list:
    out = []
    while not subscription.empty():
        out.append(subscription.get_nowait())
    return out


async def test_events_carry_the_node_and_a_sequence_in_delivery_order() -> None:
    bus = EventBus("pi4", first_seq=41)
    async with bus.subscribe() as first, bus.subscribe() as second:
        bus.publish(StateEvent("bme680", "running"))
        bus.publish(LogEvent("bme680", LogLevel.INFO, "hello", "plugin"))
        bus.publish(ReadingsEvent("bme680", (Reading("temperature", 21.5, "°C"),)))
        got = drain(first)
        assert drain(second) == got  # every subscriber sees the same stamped events
    assert [(e.node, e.seq) for e in got] == [("pi4", 41), ("pi4", 42), ("pi4", 43)]


async def test_events_from_other_threads_are_numbered_as_they_arrive() -> None:
    bus = EventBus("pi4")
    async with bus.subscribe() as subscription:

        def publish(plugin: str) -> None:
            for i in range(100):
                bus.publish(LogEvent(plugin, LogLevel.INFO, str(i), "plugin"))

        threads = [threading.Thread(target=publish, args=(f"p{n}",)) for n in range(4)]
        for t in threads:
            t.start()
        await asyncio.to_thread(lambda: [t.join() for t in threads])
        got = [await subscription.get() for _ in range(400)]
    assert [e.seq for e in got] == list(range(1, 401))
    for n in range(4):  # each publisher's own order is kept
        assert [e.message for e in got if e.plugin == f"p{n}"] == [str(i) for i in range(100)]


async def test_a_full_subscriber_drops_and_counts_without_holding_up_others() -> None:
    bus = EventBus("pi4")
    async with bus.subscribe(maxsize=3) as slow, bus.subscribe() as fast:
        for i in range(10):
            bus.publish(LogEvent("p", LogLevel.INFO, str(i), "plugin"))
        assert [e.message for e in drain(slow)] == ["0", "1", "2"]
        assert slow.dropped == 7
        assert len(drain(fast)) == 10 and fast.dropped == 0


def test_a_reading_carries_its_metric_description() -> None:
    reading = Reading("pressure", 1013.2, "hPa", DeviceClass.PRESSURE, StateClass.MEASUREMENT)
    assert (reading.unit, reading.device_class, reading.state_class) == (
        "hPa", "pressure", "measurement",
    )  # fmt: skip
