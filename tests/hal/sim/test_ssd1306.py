"""Ssd1306Sim: the I2C byte stream decoded as the chip does, GDDRAM addressing, and the panel."""

from __future__ import annotations

import png
import pytest

from harvester.config import SimConfig
from harvester.hal.sim.backend import SimBackend
from harvester.hal.sim.ssd1306 import GDDRAM_SIZE, AddressingMode, Ssd1306Sim

STATUS_ON, STATUS_OFF = 0x06, 0x46


def cmds(*command_bytes: int) -> bytes:
    """One write: control byte 0x00 (a command stream), then the bytes."""
    return bytes([0x00, *command_bytes])


def data(*ram_bytes: int) -> bytes:
    """One write: control byte 0x40 (a data stream), then the bytes."""
    return bytes([0x40, *ram_bytes])


def powered(*setup: int) -> Ssd1306Sim:
    """A chip with the panel lit (charge pump and display on), plus `setup` commands."""
    chip = Ssd1306Sim()
    chip.write(cmds(0x8D, 0x14, 0xAF, *setup))
    return chip


def lit_pixels(chip: Ssd1306Sim) -> set[tuple[int, int]]:
    return {(x, y) for y, row in enumerate(chip.visible()) for x, on in enumerate(row) if on}


# Control bytes.
def test_after_reset_the_display_is_off_in_page_mode_and_the_status_says_so() -> None:
    chip = Ssd1306Sim()
    assert chip.read(1) == bytes([STATUS_OFF])
    assert chip.mode is AddressingMode.PAGE and not chip.display_on and not chip.charge_pump
    assert lit_pixels(chip) == set()


def test_a_command_stream_carries_commands_and_their_parameters() -> None:
    chip = Ssd1306Sim()
    chip.write(cmds(0x81, 0x10, 0xA7, 0x8D, 0x14, 0xAF))
    assert (chip.contrast, chip.inverse, chip.charge_pump, chip.display_on) == (
        0x10,
        True,
        True,
        True,
    )
    assert chip.read(2) == bytes([STATUS_ON, STATUS_ON])


def test_co_set_means_one_command_byte_then_another_control_byte() -> None:
    chip = Ssd1306Sim()
    chip.write(bytes([0x80, 0xAF, 0x80, 0xA1, 0x80, 0xC8]))
    assert chip.display_on and chip.segment_remap and chip.com_remap
    # A command's parameters may come one per control byte, and in later writes.
    chip.write(bytes([0x80, 0x21]))
    chip.write(bytes([0x80, 0x10]))
    assert chip.column_end == 127  # not applied until the last parameter
    chip.write(bytes([0x80, 0x20, 0x80, 0x22, 0x80, 0x01]))
    assert (chip.column_start, chip.column_end) == (0x10, 0x20)
    assert chip.mode is AddressingMode.PAGE  # 0x22 here was 21h's parameter, not a command
    chip.write(bytes([0x80, 0x05]))
    assert (chip.page_start, chip.page_end) == (1, 5)


def test_a_single_data_byte_and_a_data_stream_after_a_command() -> None:
    chip = Ssd1306Sim()
    chip.write(bytes([0x80, 0xB2, 0xC0, 0xAA, 0xC0, 0x55]))  # page 2, then two single bytes
    chip.write(bytes([0x80, 0xB3, 0x40, 1, 2, 3]))  # page 3 (same column), then a stream
    chip.write(bytes([0x80, 0x00, 0x40, 4]))  # column 0 again
    assert chip.gddram[2 * 128 : 2 * 128 + 2] == b"\xaa\x55"
    assert chip.gddram[3 * 128 : 3 * 128 + 5] == b"\x04\x00\x01\x02\x03"
    assert sum(chip.gddram) == 0xAA + 0x55 + 10


def test_in_a_data_stream_command_values_are_just_data() -> None:
    chip = Ssd1306Sim()
    chip.write(data(0xAF, 0x8D, 0x14))
    assert not chip.display_on and not chip.charge_pump
    assert chip.gddram[:3] == b"\xaf\x8d\x14"


def test_unknown_commands_are_ignored_and_noted() -> None:
    chip = Ssd1306Sim()
    chip.write(cmds(0xE3, 0xFC, 0xAF))
    assert chip.ignored == [0xFC] and chip.display_on


# Addressing modes.
def test_horizontal_mode_fills_the_window_row_by_row_and_wraps_to_its_start() -> None:
    chip = Ssd1306Sim()
    chip.write(cmds(0x20, 0x00, 0x21, 10, 13, 0x22, 2, 3))
    chip.write(data(*range(1, 10)))  # 4 columns x 2 pages = 8 bytes, then one more
    at = chip.gddram
    assert list(at[2 * 128 + 10 : 2 * 128 + 14]) == [9, 2, 3, 4]  # byte 9 wrapped to (10, 2)
    assert list(at[3 * 128 + 10 : 3 * 128 + 14]) == [5, 6, 7, 8]
    assert sum(at) == sum(range(2, 10))
    assert (chip.column, chip.page) == (11, 2)


def test_vertical_mode_fills_the_window_column_by_column_and_wraps_to_its_start() -> None:
    chip = Ssd1306Sim()
    chip.write(cmds(0x20, 0x01, 0x21, 100, 101, 0x22, 6, 7))
    chip.write(data(1, 2, 3, 4, 5))
    at = chip.gddram
    assert (at[6 * 128 + 100], at[7 * 128 + 100]) == (5, 2)  # byte 5 wrapped to (100, 6)
    assert (at[6 * 128 + 101], at[7 * 128 + 101]) == (3, 4)
    assert (chip.column, chip.page) == (100, 7)


def test_page_mode_stays_on_its_page_and_wraps_to_the_column_start() -> None:
    chip = Ssd1306Sim()
    chip.write(cmds(0xB5, 0x0E, 0x17))  # page 5, column 0x7E
    chip.write(data(1, 2, 3))
    at = chip.gddram
    assert (at[5 * 128 + 126], at[5 * 128 + 127]) == (3, 2)  # byte 3 wrapped to column 126
    assert sum(at) == 5 and chip.page == 5


def test_the_page_mode_commands_do_not_move_the_pointer_in_horizontal_mode() -> None:
    chip = Ssd1306Sim()
    chip.write(cmds(0x20, 0x00, 0x21, 0, 127, 0x22, 0, 7, 0xB4, 0x05))
    chip.write(data(0xFF))
    assert chip.gddram[0] == 0xFF


def test_a_full_frame_in_horizontal_mode_lands_where_the_framebuffer_has_it() -> None:
    chip = Ssd1306Sim()
    frame = bytes(i % 251 for i in range(GDDRAM_SIZE))
    chip.write(cmds(0x20, 0x00, 0x21, 0, 127, 0x22, 0, 7))
    chip.write(data(*frame))
    assert bytes(chip.gddram) == frame
    assert (chip.column, chip.page) == (0, 0)  # wrapped to the window's start


# The panel.
@pytest.mark.parametrize(
    ("setup", "external_vcc", "shows"),
    [
        ((0xAF,), False, False),  # display on, charge pump off: the panel has no drive voltage
        ((0x8D, 0x14), False, False),  # pump on, display off
        ((0x8D, 0x14, 0xAF), False, True),
        ((0x8D, 0x14, 0xAF, 0x8D, 0x10), False, False),  # pump switched off again
        ((0xAF,), True, True),  # an external VCC needs no pump
    ],
)
def test_the_panel_shows_only_with_the_display_on_and_powered(
    setup: tuple[int, ...], external_vcc: bool, shows: bool
) -> None:
    chip = Ssd1306Sim(external_vcc=external_vcc)
    chip.write(cmds(*setup, 0xA5))  # entire display on: every pixel, if anything shows
    assert len(lit_pixels(chip)) == (128 * 64 if shows else 0)


def test_remap_and_com_direction_place_ram_on_the_panel() -> None:
    chip = powered()
    chip.write(cmds(0xB0, 0x00, 0x10))
    chip.write(data(0b0000_0011))  # GDDRAM column 0, rows 0 and 1
    assert chip.pixel(0, 0) and chip.pixel(0, 1) and not chip.pixel(0, 2)
    assert lit_pixels(chip) == {(127, 63), (127, 62)}  # reset orientation: turned 180 degrees
    chip.write(cmds(0xA1, 0xC8))  # what the Adafruit driver sets
    assert lit_pixels(chip) == {(0, 0), (0, 1)}
    chip.write(cmds(0xA0))  # columns mirrored only
    assert lit_pixels(chip) == {(127, 0), (127, 1)}


def test_inverse_start_line_and_multiplex() -> None:
    chip = powered(0xA1, 0xC8)
    chip.write(cmds(0xB1))
    chip.write(data(0x01))  # GDDRAM column 0, row 8
    assert lit_pixels(chip) == {(0, 8)}
    chip.write(cmds(0x48))  # start line 8: row 8 is shown first
    assert lit_pixels(chip) == {(0, 0)}
    chip.write(cmds(0x40, 0xA7))  # inverse: everything but that pixel
    assert len(lit_pixels(chip)) == 128 * 64 - 1 and (0, 8) not in lit_pixels(chip)
    chip.write(cmds(0xA8, 31))  # 32 lines: COM0..31 only, the lower half of this glass
    assert {y for _, y in lit_pixels(chip)} == set(range(32, 64))
    assert (0, 32 + 8) not in lit_pixels(chip)  # RAM row 8 (the unlit one) is now at y 40


def test_page_columns_read_the_panel_in_font_layout() -> None:
    chip = powered(0xA1, 0xC8, 0x20, 0x00, 0x21, 0, 127, 0x22, 0, 7)
    glyph_a = bytes([0x7C, 0x12, 0x11, 0x12, 0x7C])  # a 5x8 "A", column bytes, bit 0 on top
    chip.write(data(*glyph_a))
    assert chip.page_columns(0)[:6] == glyph_a + b"\x00"
    assert chip.rows()[1][:6] == ".#.#.."


def test_the_png_decodes_to_the_panels_pixels(tmp_path) -> None:
    chip = powered(0xA1, 0xC8, 0x20, 0x00)
    chip.write(data(*(0x0F if (i // 8) % 2 else 0xF0 for i in range(GDDRAM_SIZE))))
    width, height, rows, info = png.Reader(bytes=chip.to_png()).read()
    assert (width, height, info["bitdepth"], info["greyscale"]) == (128, 64, 1, True)
    assert [[bool(v) for v in row] for row in rows] == chip.visible()
    width, height, rows, _ = png.Reader(bytes=chip.to_png(scale=3)).read()
    big = [list(row) for row in rows]
    assert (width, height) == (384, 192)
    shown = chip.visible()
    assert all(big[3 * y + 2][3 * x + 1] == shown[y][x] for y in range(64) for x in range(128))


# Register level: the exact writes adafruit-circuitpython-ssd1306 2.12.24 makes.
def adafruit_write_cmd(chip: Ssd1306Sim, command: int) -> None:
    chip.write(bytes([0x80, command]))  # SSD1306_I2C.write_cmd: Co=1, D/C#=0, one byte


ADAFRUIT_INIT_128X64 = (
    0xAE,
    0x20,
    0x00,
    0x40,
    0xA1,
    0xA8,
    0x3F,
    0xC8,
    0xD3,
    0x00,
    0xDA,
    0x12,
    0xD5,
    0x80,
    0xD9,
    0xF1,
    0xDB,
    0x30,
    0x81,
    0xFF,
    0xA4,
    0xA6,
    0xAD,
    0x30,
    0x8D,
    0x14,
    0xAF,
)  # init_display() for width 128, height 64, internal VCC, horizontal addressing


def adafruit_show(chip: Ssd1306Sim, frame: bytes) -> None:
    for command in (0x21, 0, 127, 0x22, 0, 7):
        adafruit_write_cmd(chip, command)
    chip.write(b"\x40" + frame)  # write_framebuf: the buffer with its 0x40 control byte


def test_the_adafruit_driver_init_sequence_turns_the_panel_on() -> None:
    chip = Ssd1306Sim()
    adafruit_write_cmd(chip, 0xAF)  # poweron()
    for command in ADAFRUIT_INIT_128X64:
        adafruit_write_cmd(chip, command)
    adafruit_show(chip, bytes(GDDRAM_SIZE))  # fill(0); show()
    adafruit_write_cmd(chip, 0xAF)
    assert chip.lit and chip.read(1) == bytes([STATUS_ON])
    assert chip.mode is AddressingMode.HORIZONTAL and chip.segment_remap and chip.com_remap
    assert (chip.contrast, chip.multiplex, chip.precharge, chip.settings[0xAD]) == (
        0xFF,
        64,
        0xF1,
        (0x30,),
    )
    assert chip.ignored == []
    assert lit_pixels(chip) == set()
    # Its framebuffer (MVLSB: byte x + 128 * page, bit = row % 8) shows upright.
    frame = bytearray(GDDRAM_SIZE)
    frame[0] |= 0x01  # pixel (0, 0)
    frame[127 + 128 * 7] |= 0x80  # pixel (127, 63)
    frame[10 + 128 * 2] |= 0x08  # pixel (10, 19)
    adafruit_show(chip, bytes(frame))
    assert lit_pixels(chip) == {(0, 0), (127, 63), (10, 19)}


def test_the_sim_backend_puts_a_configured_ssd1306_on_its_bus() -> None:
    backend = SimBackend(SimConfig(time_scale=0, i2c=[{"device": "ssd1306", "address": 0x3D}]))
    chip = backend.bus(1).devices[0x3D]
    assert isinstance(chip, Ssd1306Sim)
    assert backend.i2c.transfer(1, 0x3D, b"", 1) == bytes([STATUS_OFF])
    backend.i2c.transfer(1, 0x3D, cmds(0x8D, 0x14, 0xAF), 0)
    assert backend.i2c.transfer(1, 0x3D, b"", 1) == bytes([STATUS_ON]) and chip.lit
