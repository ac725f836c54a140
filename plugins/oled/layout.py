"""What the display shows: pages of 8 text lines of 21 characters (5x8 font + 1 px gap).

The first line of every page is the node name and the page number; then the readings,
grouped under a line naming their plugin, one reading a line. Pure functions, so the
layout is the same for every poll and easy to read.
"""

COLUMNS = 21  # 128 px / 6 px per character
ROWS = 8  # 64 px / 8 px per line
# The font is ASCII plus a code page the readings do not need: units are spelt in ASCII.
_ASCII_UNITS = {"°C": "C", "°F": "F", "Ω": "ohm", "µg/m³": "ug/m3", "m³": "m3"}


def ascii_text(text: str) -> str:
    text = _ASCII_UNITS.get(text, text)
    return "".join(c if " " <= c <= "~" else "?" for c in text)


def value_text(value: float, unit: str) -> str:
    shown = f"{value:.0f}" if abs(value) >= 10_000 else f"{value:.1f}"
    return shown + ascii_text(unit)


def line(left: str, right: str = "") -> str:
    """`left` and `right` on one line, right-aligned; `left` is cut to make room."""
    room = COLUMNS - len(right) - (1 if right else 0)
    left = ascii_text(left)[: max(room, 0)]
    return (left.ljust(room) + (" " + right if right else ""))[:COLUMNS]


def body_lines(readings: list) -> list[str]:
    """One line per reading, under a `plugin:` line for each plugin (in the given order)."""
    lines: list[str] = []
    plugin = None
    for r in readings:
        if r.plugin != plugin:
            plugin = r.plugin
            lines.append(line(f"{plugin}:"))
        lines.append(line(" " + r.metric, value_text(r.value, r.unit)))
    return lines or [line("no readings yet")]


def pages(node_name: str, readings: list) -> list[list[str]]:
    """The screens to show in turn, each at most ROWS lines, the first one the title."""
    body = body_lines(readings)
    per_page = ROWS - 1
    chunks = [body[i : i + per_page] for i in range(0, len(body), per_page)]
    count = len(chunks)
    return [
        [line(node_name, f"{n}/{count}" if count > 1 else ""), *chunk]
        for n, chunk in enumerate(chunks, start=1)
    ]
