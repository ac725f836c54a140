"""The host's names for WIT enums and cases are the ones in wit/, in the same order."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import pytest

from harvester.constants import (
    CommandErrorCase,
    DeviceClass,
    HalErrorCase,
    LogLevel,
    SensorErrorCase,
    StateClass,
    ValueKind,
)

WIT = Path(__file__).resolve().parents[1] / "wit"


def wit_cases(kind: str, name: str) -> list[str]:
    """The case names of `enum NAME { ... }` or `variant NAME { ... }` in wit/."""
    text = "\n".join(p.read_text() for p in sorted(WIT.glob("*.wit")))
    body = re.search(rf"\b{kind} {name} \{{(.*?)\}}", text, re.S)
    assert body, f"{kind} {name} not found in wit/"
    lines = [re.sub(r"//.*", "", line) for line in body.group(1).splitlines()]
    return re.findall(r"([a-z][a-z0-9-]*)\s*(?:\([^)]*\))?\s*,", "\n".join(lines) + ",")


@pytest.mark.parametrize(
    "enum,kind,name",
    [
        (LogLevel, "enum", "level"),
        (HalErrorCase, "variant", "hal-error"),
        (SensorErrorCase, "variant", "sensor-error"),
        (DeviceClass, "enum", "device-class"),
        (StateClass, "enum", "state-class"),
        (CommandErrorCase, "variant", "command-error"),
        (ValueKind, "enum", "value-kind"),
        (ValueKind, "variant", "value"),
    ],
)
def test_enum_matches_the_wit(enum: type[StrEnum], kind: str, name: str) -> None:
    assert [m.value for m in enum] == wit_cases(kind, name)
