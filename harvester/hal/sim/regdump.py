"""Parse and produce I2C register dumps (256 registers of one device).

Two input formats are accepted:

(a) the output of ``i2cdump -y 1 0x77``: a header line ``     0  1  2 ... f`` and rows
    ``00: xx xx ... xx    ascii``; ``XX`` (unreadable register) is taken as 0;
(b) 256 bytes of hex, whitespace/newline separated (``61 00 ...``) or contiguous.
"""

from __future__ import annotations

import re

REGISTER_COUNT = 256
ROW_WIDTH = 16
UNREADABLE = "XX"

_ROW_RE = re.compile(r"^\s*([0-9a-fA-F]{2}):(.*)$")
_BYTE_RE = re.compile(r"^[0-9a-fA-F]{2}$")
_HEX_RE = re.compile(r"^(?:0[xX])?([0-9a-fA-F]+)$")
_HEADER_TOKENS = [f"{i:x}" for i in range(ROW_WIDTH)]
# Lines i2cdump prints around the table (without -y, or on stderr merged into a capture).
_I2CDUMP_CHATTER = (
    "no size specified",
    "warning!",
    "i will probe",
    "i will read",
    "continue?",
    "you have been warned",
)


def parse_register_dump(text: str) -> bytes:
    """Return the 256 register bytes in ``text``; ValueError names the offending line/token."""
    lines = text.splitlines()
    if any(_ROW_RE.match(line) for line in lines):
        return _parse_i2cdump(lines)
    return _parse_hex(lines)


def _parse_i2cdump(lines: list[str]) -> bytes:
    regs = bytearray(REGISTER_COUNT)
    seen: set[int] = set()
    for lineno, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.split()[:ROW_WIDTH] == _HEADER_TOKENS:
            continue
        if stripped.lower().startswith(_I2CDUMP_CHATTER):
            continue
        m = _ROW_RE.match(line)
        if m is None:
            raise ValueError(f"line {lineno}: not an i2cdump row: {stripped!r}")
        base = int(m.group(1), 16)
        if base % ROW_WIDTH:
            raise ValueError(f"line {lineno}: row address {m.group(1)!r} is not a multiple of 0x10")
        if base in seen:
            raise ValueError(f"line {lineno}: row {m.group(1)!r} appears twice")
        seen.add(base)
        # Only the first 16 tokens are bytes; what follows is the ASCII column (may hold spaces).
        tokens = m.group(2).split()[:ROW_WIDTH]
        if len(tokens) < ROW_WIDTH:
            raise ValueError(
                f"line {lineno}: row {m.group(1)!r} has {len(tokens)} bytes, expected {ROW_WIDTH}"
            )
        for col, tok in enumerate(tokens):
            if tok.upper() == UNREADABLE:
                value = 0
            elif _BYTE_RE.match(tok):
                value = int(tok, 16)
            else:
                raise ValueError(
                    f"line {lineno}: bad byte token {tok!r} at register 0x{base + col:02x}"
                )
            regs[base + col] = value
    missing = [f"0x{b:02x}" for b in range(0, REGISTER_COUNT, ROW_WIDTH) if b not in seen]
    if missing:
        raise ValueError(f"i2cdump text is missing rows: {', '.join(missing)}")
    return bytes(regs)


def _parse_hex(lines: list[str]) -> bytes:
    data = bytearray()
    for lineno, line in enumerate(lines, start=1):
        for tok in line.split():
            m = _HEX_RE.match(tok)
            if m is None or len(m.group(1)) % 2:
                raise ValueError(f"line {lineno}: bad hex token {tok!r}")
            data += bytes.fromhex(m.group(1))
    if len(data) != REGISTER_COUNT:
        raise ValueError(f"hex dump holds {len(data)} bytes, expected {REGISTER_COUNT}")
    return bytes(data)


def format_i2cdump(regs: bytes) -> str:
    """Render 256 registers exactly as ``i2cdump -y BUS ADDR`` prints them."""
    if len(regs) != REGISTER_COUNT:
        raise ValueError(f"need {REGISTER_COUNT} register bytes, got {len(regs)}")
    out = ["     " + "".join(f"{i:x}  " for i in range(ROW_WIDTH)) + "  0123456789abcdef"]
    for base in range(0, REGISTER_COUNT, ROW_WIDTH):
        row = regs[base : base + ROW_WIDTH]
        hexes = "".join(f"{b:02x} " for b in row)
        # i2cdump shows 0x00 and 0xff as '.', other non-printables as '?'.
        ascii_col = "".join(
            "." if b in (0x00, 0xFF) else chr(b) if 32 <= b < 127 else "?" for b in row
        )
        out.append(f"{base:02x}: {hexes}   {ascii_col}")
    return "\n".join(out) + "\n"
