"""Choose the backend a node config asks for."""

from __future__ import annotations

from harvester.config import NodeConfig
from harvester.hal.backend import Backend


class BackendUnavailable(Exception):
    """The configured backend cannot run here."""


def make_backend(config: NodeConfig) -> Backend:
    if config.backend == "sim":
        from harvester.hal.sim.backend import SimBackend

        return SimBackend(config.sim)
    # The linux backend (smbus2, gpiod, IIO dht11, psutil) is the seam for a later issue.
    raise BackendUnavailable(
        f"node {config.name!r}: backend 'linux' is not implemented yet; use backend = 'sim'"
    )
