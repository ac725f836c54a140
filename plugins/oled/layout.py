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


def pages(node_name: str, readings: list) -> list[list[str]]:
    """The screens to show in turn, each at most ROWS lines: the title, then readings,
    each under a `plugin:` line (repeated at the top of a page that continues a plugin)."""
    per_page = ROWS - 1
    bodies: list[list[str]] = [[]]
    plugin = None
    for r in readings:
        body = bodies[-1]
        starts_plugin = r.plugin != plugin or not body
        if len(body) + (2 if starts_plugin else 1) > per_page:
            body = []
            bodies.append(body)
            starts_plugin = True
        if starts_plugin:
            plugin = r.plugin
            body.append(line(f"{plugin}:"))
        body.append(line(" " + r.metric, value_text(r.value, r.unit)))
    if not bodies[0]:
        bodies[0].append(line("no readings yet"))
    count = len(bodies)
    return [
        [line(node_name, f"{n}/{count}" if count > 1 else ""), *body]
        for n, body in enumerate(bodies, start=1)
    ]
