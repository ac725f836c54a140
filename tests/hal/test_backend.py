"""Backend: a frozen bundle of capabilities; None is hardware the node lacks."""

from __future__ import annotations

import dataclasses

import pytest

from harvester.hal import Backend, Capability
from harvester.hal.sim.clock import SimClock
from harvester.hal.sim.gpio import SimGpio


def test_capabilities_are_the_parts_present() -> None:
    clock = SimClock(time_scale=0)
    assert Backend(name="bare", clock=clock).capabilities == frozenset()
    assert Backend(name="pins", clock=clock, gpio=SimGpio()).capabilities == {Capability.GPIO}


def test_a_backend_is_frozen_and_keyword_only() -> None:
    backend = Backend(name="bare", clock=SimClock(time_scale=0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        backend.gpio = SimGpio()  # type: ignore[misc]
    with pytest.raises(TypeError):
        Backend("bare", SimClock(time_scale=0))  # type: ignore[misc]
