"""run_node: every event the supervisor publishes reaches on_event, the last ones too."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from harvester.node.events import Event, ReadingsEvent, StateEvent
from harvester.node.node import run_node
from tests.conftest import BME680_PLUGIN, make_node

pytestmark = pytest.mark.wasm


async def test_the_final_stopped_events_are_delivered(plugin_dir: Path) -> None:
    seen: list[Event] = []
    stop = asyncio.Event()

    def on_event(event: Event) -> None:
        seen.append(event)
        if isinstance(event, ReadingsEvent):
            stop.set()  # stop as soon as the node works

    config = make_node(plugin_dir, [BME680_PLUGIN])
    await asyncio.wait_for(run_node(config, stop=stop, on_event=on_event), 60)
    states = [e.state for e in seen if isinstance(e, StateEvent)]
    assert states[-1] == "stopped"
