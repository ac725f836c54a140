"""Reading text back off the simulated SSD1306's panel, with the plugin's own 5x8 font."""

from __future__ import annotations

from pathlib import Path

from harvester.hal.sim.ssd1306 import Ssd1306Sim

FONT = (Path(__file__).resolve().parents[2] / "plugins" / "oled" / "font5x8.bin").read_bytes()
WIDTH = FONT[0]  # 5 columns a glyph, then 1 blank column
CELL = WIDTH + 1
UNKNOWN = "\N{REPLACEMENT CHARACTER}"
# Printable ASCII only; the first glyph of a shape wins (the space is all blank).
GLYPHS: dict[bytes, str] = {}
for _code in range(0x20, 0x7F):
    GLYPHS.setdefault(FONT[2 + _code * WIDTH : 2 + (_code + 1) * WIDTH], chr(_code))


def screen_lines(display: Ssd1306Sim) -> list[str]:
    """The 8 text lines the panel shows (what is lit, not what GDDRAM holds), trailing
    blanks cut; a cell that is no glyph of the font reads as U+FFFD."""
    lines = []
    for page in range(8):
        columns = display.page_columns(page)
        chars = []
        for x in range(0, 128 - WIDTH + 1, CELL):
            cell = columns[x : x + WIDTH]
            gap = columns[x + WIDTH] if x + WIDTH < 128 else 0
            chars.append(GLYPHS.get(cell, UNKNOWN) if gap == 0 else UNKNOWN)
        lines.append("".join(chars).rstrip())
    return lines
