"""Register-level SSD1306 (128x64 OLED controller) on I2C: the byte stream a driver sends,
decoded as the chip does (SSD1306 datasheet rev 1.1, sections 8.1.5, 9 and 10).

Every I2C write starts with a control byte: Co (bit 7) and D/C# (bit 6). Co=0 means every
following byte of the write is a command (D/C#=0) or GDDRAM data (D/C#=1); Co=1 means one
byte follows and then another control byte. A command's parameter bytes are simply the next
command bytes, so they may arrive in later writes or behind further control bytes (the
Adafruit driver sends each as its own `0x80, byte` write). Data bytes go to GDDRAM at the
pointer, which advances as the addressing mode says. A read returns the status byte.

What the panel shows is in ssd1306_panel.py; docs/ssd1306-sim.md lists what is not modelled.
"""

from __future__ import annotations

import threading
from enum import IntEnum

from harvester.hal.sim import ssd1306_panel as panel

WIDTH, HEIGHT = 128, 64
PAGES = HEIGHT // 8
GDDRAM_SIZE = WIDTH * PAGES

CONTROL_CO = 0x80  # continuation: one byte follows, then another control byte
CONTROL_DC = 0x40  # the byte(s) are GDDRAM data, not commands

STATUS_DISPLAY_OFF = 0x40  # status bit 6: 1 = display off, 0 = on (datasheet 8.1.5 / 9)
# Bits 3..0 are "reserved" in the datasheet; 128x64 SSD1306 modules read 0x06 there (0x03
# on smaller panels), which is how driver libraries tell it from the SH1106 (0x08).
STATUS_ID_BITS = 0x06

CHARGE_PUMP_ENABLE = 0x04  # 8Dh parameter bit 2: 0x14 on, 0x10 off
MIN_MULTIPLEX = 16  # A8h values 0..14 are invalid and ignored


class AddressingMode(IntEnum):
    HORIZONTAL = 0
    VERTICAL = 1
    PAGE = 2  # the reset mode


# Commands that take parameter bytes, and how many.
PARAMETERS = {
    0x20: 1,  # memory addressing mode
    0x21: 2,  # column address window
    0x22: 2,  # page address window
    0x23: 1,  # fade out / blink (accepted, not shown)
    0x26: 6,  # right horizontal scroll setup
    0x27: 6,  # left horizontal scroll setup
    0x29: 5,  # vertical and right horizontal scroll setup
    0x2A: 5,  # vertical and left horizontal scroll setup
    0x81: 1,  # contrast
    0x8D: 1,  # charge pump
    0xA3: 2,  # vertical scroll area
    0xA8: 1,  # multiplex ratio
    0xAD: 1,  # internal IREF (SSD1306B; the Adafruit driver sends it)
    0xD3: 1,  # display offset
    0xD5: 1,  # clock divide / oscillator
    0xD6: 1,  # zoom in
    0xD9: 1,  # pre-charge period
    0xDA: 1,  # COM pins configuration
    0xDB: 1,  # VCOMH deselect level
}
NOP = 0xE3


class Ssd1306Sim:
    """One SSD1306 as the I2C bus sees it, plus the state a test or a dashboard inspects:
    `gddram`, `pixel(x, y)`, `visible()`, `page_columns(page)`, `rows()`, `to_png()`."""

    def __init__(self, *, external_vcc: bool = False) -> None:
        self.external_vcc = external_vcc  # a module with its own VCC needs no charge pump
        self._lock = threading.Lock()
        self.gddram = bytearray(GDDRAM_SIZE)
        self.ignored: list[int] = []  # command bytes the SSD1306 does not know (NOPs)
        self.reset()

    def reset(self) -> None:
        """The state after power-on / RES# (datasheet table 9-1 reset values). GDDRAM is
        not cleared by a reset; a real chip powers up with it undefined, this one zeroed."""
        self.display_on = False
        self.charge_pump = False
        self.mode = AddressingMode.PAGE
        self.column_start, self.column_end = 0, WIDTH - 1
        self.page_start, self.page_end = 0, PAGES - 1
        self.column, self.page = 0, 0
        self.page_mode_column = 0  # 00h-1Fh: the column start in page addressing mode
        self.start_line = 0
        self.segment_remap = False  # A1: column 127 drives SEG0
        self.com_remap = False  # C8: scan from COM[N-1] to COM0
        self.contrast = 0x7F
        self.entire_on = False  # A5: every pixel lit, whatever GDDRAM holds
        self.inverse = False  # A7: a 0 bit lights the pixel
        self.multiplex = HEIGHT
        self.display_offset = 0
        self.clock = 0x80
        self.precharge = 0x22
        self.com_pins = 0x12
        self.vcomh = 0x20
        self.scrolling = False
        self.settings: dict[int, tuple[int, ...]] = {}  # accepted commands not modelled
        self._pending: int | None = None
        self._params: list[int] = []

    # The bus side (harvester.hal.sim.i2c_bus.I2CDevice).
    def write(self, data: bytes) -> None:
        with self._lock:
            i = 0
            while i < len(data):
                control = data[i]
                i += 1
                is_data = bool(control & CONTROL_DC)
                if control & CONTROL_CO:
                    if i < len(data):
                        self._byte(data[i], is_data)
                        i += 1
                    continue  # the next byte is another control byte
                for byte in data[i:]:
                    self._byte(byte, is_data)
                return

    def read(self, length: int) -> bytes:
        """Every byte read is the status byte (GDDRAM cannot be read over I2C)."""
        with self._lock:
            status = STATUS_ID_BITS | (0 if self.display_on else STATUS_DISPLAY_OFF)
            return bytes([status] * length)

    # The test / dashboard side.
    def pixel(self, x: int, y: int) -> bool:
        """GDDRAM's bit for column `x`, row `y` (what is stored, not what is shown)."""
        return bool(self.gddram[(y // 8) * WIDTH + x] >> (y % 8) & 1)

    @property
    def lit(self) -> bool:
        """Whether the panel shows anything: display on, and the charge pump on unless the
        module has its own VCC."""
        return self.display_on and (self.charge_pump or self.external_vcc)

    def visible(self) -> list[list[bool]]:
        """What the panel shows, rows top to bottom, each 128 pixels left to right."""
        with self._lock:
            return panel.render(self)

    def page_columns(self, page: int) -> bytes:
        """The shown pixels of panel rows 8*page..8*page+7 as 128 column bytes, bit 0 the
        top row: the layout 5x8 fonts are drawn in, so text is matched glyph by glyph."""
        return panel.page_columns(self.visible(), page)

    def rows(self) -> list[str]:
        """The panel as text, '#' lit and '.' dark (for assertion messages)."""
        return ["".join("#" if p else "." for p in row) for row in self.visible()]

    def to_png(self, scale: int = 1) -> bytes:
        """The panel as a 1-bit greyscale PNG, each pixel `scale` x `scale`."""
        return panel.to_png(self.visible(), scale)

    # Decoding.
    def _byte(self, byte: int, is_data: bool) -> None:
        if is_data:
            self._data(byte)
        elif self._pending is not None:
            self._params.append(byte)
            if len(self._params) == PARAMETERS[self._pending]:
                command, params = self._pending, tuple(self._params)
                self._pending, self._params = None, []
                self._with_parameters(command, params)
        elif byte in PARAMETERS:
            self._pending = byte
        else:
            self._single(byte)

    def _single(self, cmd: int) -> None:
        if cmd in (0xAE, 0xAF):
            self.display_on = cmd == 0xAF
        elif cmd in (0xA4, 0xA5):
            self.entire_on = cmd == 0xA5
        elif cmd in (0xA6, 0xA7):
            self.inverse = cmd == 0xA7
        elif cmd in (0xA0, 0xA1):
            self.segment_remap = cmd == 0xA1
        elif 0xC0 <= cmd <= 0xCF:
            self.com_remap = bool(cmd & 0x08)
        elif 0x40 <= cmd <= 0x7F:
            self.start_line = cmd & 0x3F
        elif 0xB0 <= cmd <= 0xB7:
            if self.mode is AddressingMode.PAGE:
                self.page = cmd & 0x07
        elif cmd <= 0x1F:
            if cmd <= 0x0F:
                self.page_mode_column = (self.page_mode_column & 0xF0) | cmd
            else:
                self.page_mode_column = (self.page_mode_column & 0x0F) | (cmd & 0x07) << 4
            if self.mode is AddressingMode.PAGE:
                self.column = self.page_mode_column
        elif cmd in (0x2E, 0x2F):
            self.scrolling = cmd == 0x2F
        elif cmd != NOP:
            self.ignored.append(cmd)

    def _with_parameters(self, cmd: int, params: tuple[int, ...]) -> None:
        first = params[0]
        if cmd == 0x20:
            if first & 0x03 != 0x03:  # 11b is invalid
                self.mode = AddressingMode(first & 0x03)
        elif cmd == 0x21:
            self.column_start, self.column_end = first & 0x7F, params[1] & 0x7F
            self.column = self.column_start
        elif cmd == 0x22:
            self.page_start, self.page_end = first & 0x07, params[1] & 0x07
            self.page = self.page_start
        elif cmd == 0x81:
            self.contrast = first
        elif cmd == 0x8D:
            self.charge_pump = bool(first & CHARGE_PUMP_ENABLE)
        elif cmd == 0xA8:
            if (first & 0x3F) + 1 >= MIN_MULTIPLEX:
                self.multiplex = (first & 0x3F) + 1
        elif cmd == 0xD3:
            self.display_offset = first & 0x3F
        elif cmd == 0xD5:
            self.clock = first
        elif cmd == 0xD9:
            self.precharge = first
        elif cmd == 0xDA:
            self.com_pins = first
        elif cmd == 0xDB:
            self.vcomh = first
        else:
            self.settings[cmd] = params

    def _data(self, byte: int) -> None:
        self.gddram[self.page * WIDTH + self.column] = byte
        if self.mode is AddressingMode.HORIZONTAL:
            if self.column >= self.column_end or self.column == WIDTH - 1:
                self.column = self.column_start
                self.page = self._next(self.page, self.page_start, self.page_end, PAGES)
            else:
                self.column += 1
        elif self.mode is AddressingMode.VERTICAL:
            if self.page >= self.page_end or self.page == PAGES - 1:
                self.page = self.page_start
                self.column = self._next(self.column, self.column_start, self.column_end, WIDTH)
            else:
                self.page += 1
        else:
            # Page mode: the page stays; the column wraps to the page-mode column start.
            self.column = self.page_mode_column if self.column == WIDTH - 1 else self.column + 1

    @staticmethod
    def _next(value: int, start: int, end: int, size: int) -> int:
        """`value` + 1 inside the window start..end, wrapping to start after end."""
        return start if value >= end or value == size - 1 else value + 1
