"""Typed access to a plugin's settings (all strings on the wire).

A bad value raises BadSetting naming the key and the value; `guard` (sensor) and the
actuator base turn it into their export's `bad-setting` error.
"""

from typing import Any


class BadSetting(ValueError):
    """A setting from the node config is missing or wrong; the message names it."""


class Settings:
    def __init__(self, settings: list[Any]) -> None:
        self._values = {s.key: s.value for s in settings}

    def text(self, key: str, default: str) -> str:
        return self._values.get(key, default)

    def integer(self, key: str, default: int, *, low: int, high: int) -> int:
        raw = self._values.get(key)
        if raw is None:
            return default
        try:
            value = int(raw, 0)  # accepts 119 and 0x77 alike
        except ValueError:
            raise BadSetting(f"{key} = {raw!r}: not an integer") from None
        if not low <= value <= high:
            raise BadSetting(f"{key} = {raw!r}: must be between {low} and {high}")
        return value

    def number(self, key: str, default: float, *, low: float, high: float) -> float:
        raw = self._values.get(key)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise BadSetting(f"{key} = {raw!r}: not a number") from None
        if not low <= value <= high:
            raise BadSetting(f"{key} = {raw!r}: must be between {low} and {high}")
        return value
