"""What an SSD1306 128x64 module shows, from the controller's state, and the panel as PNG.

The module's glass is wired as on the common 0.96" boards: SEG127 at the left edge and COM63
at the top. So the Adafruit driver's set-up (segment remap A1, COM scan C8) shows GDDRAM
column x, row y at panel (x, y), and the reset state (A0, C0) shows it turned 180 degrees.

Per pixel: a COM line shows display line L (C0: L = COM, C8: L = multiplex - 1 - COM), shifted
by the display offset (D3); lines past the multiplex ratio are dark. Line L shows GDDRAM row
(L + start line) mod 64. A SEG shows column SEG (A0) or 127 - SEG (A1). The bit is inverted
by A7, overridden to lit by A5, and nothing is lit unless the display is on and powered.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import png

if TYPE_CHECKING:
    from harvester.hal.sim.ssd1306 import Ssd1306Sim

WIDTH, HEIGHT = 128, 64


def render(chip: Ssd1306Sim) -> list[list[bool]]:
    """The panel, rows top to bottom, each left to right."""
    if not chip.lit:
        return [[False] * WIDTH for _ in range(HEIGHT)]
    columns = [(WIDTH - 1 - x) if not chip.segment_remap else x for x in range(WIDTH)]
    shown = []
    for y in range(HEIGHT):
        com = HEIGHT - 1 - y
        line = (chip.multiplex - 1 - com) if chip.com_remap else com
        if not 0 <= line < chip.multiplex:
            shown.append([False] * WIDTH)
            continue
        row = (line + chip.display_offset + chip.start_line) % HEIGHT
        base, bit = (row // 8) * WIDTH, row % 8
        if chip.entire_on:
            shown.append([True] * WIDTH)
        else:
            shown.append(
                [bool(chip.gddram[base + col] >> bit & 1) != chip.inverse for col in columns]
            )
    return shown


def page_columns(shown: list[list[bool]], page: int) -> bytes:
    """Panel rows 8*page..8*page+7 as one byte per column, bit 0 the top row."""
    rows = shown[page * 8 : page * 8 + 8]
    return bytes(sum(1 << bit for bit, row in enumerate(rows) if row[x]) for x in range(WIDTH))


def to_png(shown: list[list[bool]], scale: int = 1) -> bytes:
    """A 1-bit greyscale PNG of `shown`, lit pixels white. Raises ValueError for a scale
    below 1."""
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    rows = []
    for row in shown:
        wide = [int(p) for p in row for _ in range(scale)]
        rows.extend([wide] * scale)
    out = io.BytesIO()
    png.Writer(len(shown[0]) * scale, len(shown) * scale, greyscale=True, bitdepth=1).write(
        out, rows
    )
    return out.getvalue()
