"""Typed access to a plugin's settings (all strings on the wire)."""

from typing import Any

from harvester_sdk.errors import bad_setting


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
            raise bad_setting(f"{key} = {raw!r}: not an integer") from None
        if not low <= value <= high:
            raise bad_setting(f"{key} = {raw!r}: must be between {low} and {high}")
        return value

    def number(self, key: str, default: float, *, low: float, high: float) -> float:
        raw = self._values.get(key)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise bad_setting(f"{key} = {raw!r}: not a number") from None
        if not low <= value <= high:
            raise bad_setting(f"{key} = {raw!r}: must be between {low} and {high}")
        return value
