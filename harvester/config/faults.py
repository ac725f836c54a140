"""The `faults` of a plugin: hardware errors injected at its HAL boundary, to exercise a
driver's error paths (see docs/recording.md). Validated here; injected by harvester.hal.tap.
"""

from __future__ import annotations

from typing import Final, Literal, Self

from pydantic import Field, model_validator

from harvester.config.base import Frozen, I2CAddress

FaultKind = Literal["no-acknowledge", "timeout", "corrupt", "stuck-bus"]
FaultTarget = Literal["i2c", "dht22", "gpio"]

# What each capability can be made to suffer. A DHT22 or a pin has no address to refuse
# and no bytes to garble: it can only stop answering, once or for a while.
KINDS_ON: Final[dict[str, tuple[str, ...]]] = {
    "i2c": ("no-acknowledge", "timeout", "corrupt", "stuck-bus"),
    "dht22": ("timeout", "stuck-bus"),
    "gpio": ("timeout", "stuck-bus"),
}
TRIGGERS: Final = ("nth", "every", "probability")


class FaultRule(Frozen):
    """One fault: what goes wrong (`kind`), where (`on`, `address`), and when (exactly one
    of `nth`, `every`, `probability`; `count` caps how often, or how long a bus sticks)."""

    kind: FaultKind
    on: FaultTarget = "i2c"
    # Only calls to this I2C address count (all addresses if unset).
    address: I2CAddress | None = None
    nth: int | None = Field(default=None, ge=1)
    every: int | None = Field(default=None, ge=1)
    probability: float | None = Field(default=None, gt=0, le=1)
    seed: int = 0
    count: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        given = [name for name in TRIGGERS if getattr(self, name) is not None]
        if len(given) != 1:
            got = " and ".join(given) if given else "none"
            raise ValueError(f"exactly one of nth, every, probability is required (got {got})")
        if self.kind not in KINDS_ON[self.on]:
            allowed = ", ".join(KINDS_ON[self.on])
            raise ValueError(f"kind {self.kind!r} cannot happen on {self.on!r} (only {allowed})")
        if self.address is not None and self.on != "i2c":
            raise ValueError(f"address applies only to on = 'i2c' (got on = {self.on!r})")
        return self

    @property
    def trigger(self) -> str:
        """`nth = 5`, `every = 10` or `probability = 0.1`: the trigger as the config wrote it."""
        name = next(name for name in TRIGGERS if getattr(self, name) is not None)
        return f"{name} = {getattr(self, name)}"
