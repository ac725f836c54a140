"""A backend: the bundle of capabilities one node has. `sim` simulates devices; `linux`
drives real ones.

Backends know nothing of plugins or grants: the facade (facade.py) checks those first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from harvester.hal.capabilities import (
    I2C,
    Buzzers,
    Capability,
    Clock,
    Dht22,
    Gpio,
    LedStrips,
    SystemInfo,
)
from harvester.hal.errors import HalError

log = logging.getLogger(__name__)


@runtime_checkable
class Closable(Protocol):
    """A part that holds something (an open bus, requested lines, a sounding buzzer)."""

    def close(self) -> None: ...


BACKEND_SIM: Final = "sim"
BACKEND_LINUX: Final = "linux"


@dataclass(frozen=True, kw_only=True, eq=False)
class Backend:
    """What one node's hardware can do. A capability left as None is hardware this node
    does not have; every node has a clock."""

    name: str
    clock: Clock
    i2c: I2C | None = None
    gpio: Gpio | None = None
    dht22: Dht22 | None = None
    system: SystemInfo | None = None
    leds: LedStrips | None = None
    buzzer: Buzzers | None = None

    @property
    def capabilities(self) -> frozenset[Capability]:
        """The optional capabilities this backend has."""
        present = {
            Capability.I2C: self.i2c,
            Capability.GPIO: self.gpio,
            Capability.DHT22: self.dht22,
            Capability.SYSTEM_INFO: self.system,
            Capability.LEDS: self.leds,
            Capability.BUZZER: self.buzzer,
        }
        return frozenset(c for c, part in present.items() if part is not None)

    def close(self) -> None:
        """Release what the parts hold; parts without a `close` hold nothing. The buzzer
        goes first: an active one is silenced through the gpio part. A part that fails to
        close is logged and the others are still closed (this runs at shutdown)."""
        for part in (self.buzzer, self.leds, self.dht22, self.system, self.gpio, self.i2c):
            if isinstance(part, Closable):
                try:
                    part.close()
                except HalError as exc:
                    log.warning("%s backend: closing %s: %s", self.name, type(part).__name__, exc)
