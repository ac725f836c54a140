"""Choose the backend a node config asks for: the one place that maps a name to a backend."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from harvester.config import NodeConfig
from harvester.hal.backend import BACKEND_LINUX, BACKEND_SIM, Backend
from harvester.hal.errors import BackendUnavailable


def _sim(config: NodeConfig) -> Backend:
    from harvester.hal.sim.backend import SimBackend  # the simulators load only when used

    return SimBackend(config.sim)


def _linux(config: NodeConfig) -> Backend:
    from harvester.hal.linux.backend import linux_backend  # hardware libraries load lazily

    return linux_backend(config)


BACKENDS: Final[Mapping[str, Callable[[NodeConfig], Backend]]] = {
    BACKEND_SIM: _sim,
    BACKEND_LINUX: _linux,
}


def make_backend(config: NodeConfig) -> Backend:
    """The backend `config.backend` names, built from the config.

    Raises BackendUnavailable when that backend cannot run here or cannot build what the
    config lists.
    """
    build = BACKENDS.get(config.backend)
    if build is None:  # the config's Literal and BACKENDS are kept equal by a test
        raise BackendUnavailable(f"node {config.name!r}: unknown backend {config.backend!r}")
    return build(config)
