"""What a hot reload of one plugin came to (docs/lifecycle.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# swapped: the new version answers and the old one is gone.
# unchanged: the file holds the version already running (or already refused).
# refused: the new version did not load, start or answer; the old one keeps running.
# rolled-back: the new version was swapped in, then faulted repeatedly; the old one is back.
ReloadResult = Literal["swapped", "unchanged", "refused", "rolled-back"]


@dataclass(frozen=True)
class ReloadOutcome:
    plugin: str
    result: ReloadResult
    version: str  # what runs after (16 hex digits of the component's sha256; "" if none)
    previous: str  # what ran before
    detail: str = ""  # why, for refused and rolled-back: one line naming the cause
