"""Building blocks shared by every config schema: the frozen base model and checked types."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from harvester.constants import LED_MAX_STRIPS

H = TypeVar("H", bound=Hashable)

I2CAddress = Annotated[int, Field(ge=0x03, le=0x77)]  # the 7-bit range that is not reserved
I2CBus = Annotated[int, Field(ge=0, le=255)]  # /dev/i2c-N
Pin = Annotated[int, Field(ge=0, le=53)]  # BCM numbering on the Pi's 54-pin controller
LedStrip = Annotated[int, Field(ge=0, lt=LED_MAX_STRIPS)]  # the node's WS2812B strips


class Frozen(BaseModel):
    """A config object: unknown keys are errors, and nothing changes it after load."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def repeated(values: Iterable[H]) -> list[H]:
    """The values that occur more than once, in order of first appearance (for "must be
    unique" errors)."""
    seen: set[H] = set()
    again: dict[H, None] = {}
    for value in values:
        if value in seen:
            again[value] = None
        seen.add(value)
    return list(again)


def refuse_repeats(values: Iterable[H], message: str) -> None:
    """Raise ValueError(`message` with `{}` replaced by the repeated values, sorted and
    comma-separated) if any value occurs more than once."""
    dupes = sorted(repeated(values))  # type: ignore[type-var]  # H is orderable here
    if dupes:
        raise ValueError(message.format(", ".join(map(str, dupes))))
