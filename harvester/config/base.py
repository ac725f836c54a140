"""Building blocks shared by every config schema: the frozen base model and checked types."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Annotated, Self, TypeVar

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

    def with_base(self, base: Path) -> Self:
        """This object with every relative path in it (in nested tables and lists of
        tables too) made relative to `base`, the folder of the file it came from, not to
        the working directory."""
        update = {
            name: new
            for name in type(self).model_fields
            if (new := _rebased(value := getattr(self, name), base)) is not value
        }
        return self.model_copy(update=update) if update else self


def _rebased(value: object, base: Path) -> object:
    """`value` with its paths made relative to `base`; the same object if it holds none."""
    if isinstance(value, Path):
        return (base / value).resolve()
    if isinstance(value, Frozen):
        return value.with_base(base)
    if isinstance(value, tuple):
        items = tuple(_rebased(item, base) for item in value)
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


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
