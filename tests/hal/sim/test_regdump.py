"""Register dump parsing: i2cdump text and plain hex."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from harvester.hal.sim.regdump import format_i2cdump, parse_register_dump

HEADER = "     0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f    0123456789abcdef"


def sample_registers() -> bytes:
    return bytes(random.Random(1).randrange(256) for _ in range(256))


def i2cdump_rows(regs: bytes) -> list[str]:
    return format_i2cdump(regs).splitlines()


def test_format_matches_i2cdump_layout() -> None:
    regs = bytearray(256)
    regs[0xD0] = 0x61
    regs[0xD1:0xD4] = b"A\x05\xff"
    lines = format_i2cdump(bytes(regs)).splitlines()
    assert lines[0] == HEADER
    assert len(lines) == 17
    assert lines[14] == ("d0: 61 41 05 ff 00 00 00 00 00 00 00 00 00 00 00 00    aA?.............")


def test_i2cdump_text_round_trips() -> None:
    regs = sample_registers()
    assert parse_register_dump(format_i2cdump(regs)) == regs


def test_ascii_column_with_spaces_and_hex_lookalikes_is_ignored() -> None:
    regs = bytearray(256)
    regs[0x10:0x20] = b"ab cd ef 12 34  "  # printable: the ASCII column looks like bytes
    assert parse_register_dump(format_i2cdump(bytes(regs))) == bytes(regs)


def test_i2cdump_without_ascii_column_and_with_chatter() -> None:
    regs = sample_registers()
    rows = [line[:52].rstrip() for line in i2cdump_rows(regs)]
    text = "No size specified (using byte-data access)\n" + "\n".join(rows)
    assert parse_register_dump(text) == regs


def test_unreadable_registers_read_as_zero() -> None:
    rows = i2cdump_rows(bytes(range(256)))
    rows[1] = "00: XX 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e XX    X..............X"
    regs = parse_register_dump("\n".join(rows))
    assert regs[0x00] == 0 and regs[0x0F] == 0 and regs[0x01] == 1 and regs[0x10] == 0x10


@pytest.mark.parametrize(
    "render",
    [
        lambda b: b.hex(),
        lambda b: " ".join(f"{x:02x}" for x in b),
        lambda b: "\n".join(b[i : i + 16].hex().upper() for i in range(0, 256, 16)),
        lambda b: "\n".join(" ".join(f"0x{x:02X}" for x in b[i : i + 8]) for i in range(0, 256, 8)),
    ],
)
def test_hex_formats(render: Callable[[bytes], str]) -> None:
    regs = sample_registers()
    assert parse_register_dump(render(regs)) == regs


def test_bad_i2cdump_token_is_named_with_line_and_register() -> None:
    rows = i2cdump_rows(bytes(256))
    rows[3] = rows[3][:7] + "zz" + rows[3][9:]  # row 0x20, second byte
    with pytest.raises(ValueError, match=r"line 4: bad byte token 'zz' at register 0x21"):
        parse_register_dump("\n".join(rows))


def test_missing_row_is_named() -> None:
    rows = i2cdump_rows(bytes(256))
    del rows[4]  # row 0x30
    with pytest.raises(ValueError, match="missing rows: 0x30"):
        parse_register_dump("\n".join(rows))


def test_short_row_is_named() -> None:
    rows = i2cdump_rows(bytes(256))
    rows[2] = "10: 00 00 00"
    with pytest.raises(ValueError, match=r"line 3: row '10' has 3 bytes"):
        parse_register_dump("\n".join(rows))


def test_garbage_line_in_i2cdump_is_named() -> None:
    rows = i2cdump_rows(bytes(256))
    rows.insert(5, "Error: Could not open file")
    with pytest.raises(ValueError, match=r"line 6: not an i2cdump row"):
        parse_register_dump("\n".join(rows))


def test_bad_hex_token_is_named() -> None:
    text = "00 " * 100 + "\n" + "0xG1 " + "00 " * 155
    with pytest.raises(ValueError, match=r"line 2: bad hex token '0xG1'"):
        parse_register_dump(text)


def test_odd_length_hex_token_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"bad hex token 'abc'"):
        parse_register_dump("abc " + "00" * 255)


def test_wrong_byte_count_is_reported() -> None:
    with pytest.raises(ValueError, match="255 bytes, expected 256"):
        parse_register_dump("00" * 255)
