"""adafruit_framebuf's 5x8 font, from memory instead of a file.

adafruit_framebuf's BitmapFont opens `font5x8.bin` from the working directory each time
text is drawn, but a component has no files at run time. It does while componentize-py
builds it: the plugin's Python path is readable while the module is imported
(pre-initialisation), and what the module holds then is part of the component's
snapshot. So this module reads the font once, at import, and `MemoryFont` serves it from
those bytes. The font file is Adafruit's (MIT; font5x8.bin.license), from the
adafruit-circuitpython-framebuf source distribution, which ships it as an example.
"""

import io
from pathlib import Path

import adafruit_framebuf

FONT_NAME = "font5x8.bin"
FONT = Path(__file__).with_name(FONT_NAME).read_bytes()
WIDTH, HEIGHT = FONT[0], FONT[1]
if len(FONT) != 2 + 256 * WIDTH:
    raise RuntimeError(f"{FONT_NAME}: {len(FONT)} bytes is not a {WIDTH}x{HEIGHT} font")


class MemoryFont(adafruit_framebuf.BitmapFont):
    """BitmapFont over the bytes above; draw_char seeks and reads as it does on a file."""

    def __init__(self, font_name: str = FONT_NAME) -> None:
        self.font_name = font_name
        self._font = io.BytesIO(FONT)
        self.font_width, self.font_height = WIDTH, HEIGHT


def use_memory_font() -> None:
    """Make FrameBuffer.text draw with MemoryFont (it looks BitmapFont up in its module)."""
    adafruit_framebuf.BitmapFont = MemoryFont
