"""Colours as commands give them: `#rrggbb` text, or an integer 0xRRGGBB."""

import re

_HEX = re.compile(r"^#([0-9a-fA-F]{6})$")


def parse_color(text: str) -> int:
    """`#ff8800` -> 0xFF8800. Raises ValueError naming the text."""
    match = _HEX.match(text.strip())
    if match is None:
        raise ValueError(f"color {text!r}: must be #rrggbb")
    return int(match.group(1), 16)


def color_text(rgb: int) -> str:
    return f"#{rgb & 0xFFFFFF:06x}"
