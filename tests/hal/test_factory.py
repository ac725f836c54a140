"""make_backend: the one place a backend is picked by name."""

from __future__ import annotations

from typing import get_args

from harvester.config import NodeConfig
from harvester.hal import BACKEND_LINUX, BackendUnavailable, HalError, make_backend
from harvester.hal.factory import BACKENDS
from harvester.hal.sim.backend import SimBackend


def test_every_backend_the_config_accepts_has_a_builder() -> None:
    assert set(get_args(NodeConfig.model_fields["backend"].annotation)) == set(BACKENDS)


def test_sim_builds_the_configured_devices() -> None:
    config = NodeConfig(name="pi4", sim={"time_scale": 0, "i2c": [{"device": "bme680"}]})
    backend = make_backend(config)
    assert isinstance(backend, SimBackend)
    assert 0x77 in backend.bus(1).devices


def test_linux_builds_with_what_the_plugins_need() -> None:
    backend = make_backend(NodeConfig(name="pi4", backend=BACKEND_LINUX))
    assert backend.name == BACKEND_LINUX
    assert backend.capabilities == frozenset()  # no plugin: no hardware touched


def test_backend_unavailable_is_a_hal_error() -> None:
    assert issubclass(BackendUnavailable, HalError)
