"""The `sim.display` command's answer: what a node's simulated SSD1306 shows, as a PNG.

Only the sim backend has a panel to show; a real node's OLED has no framebuffer to read
back, so it answers `unavailable`. The PNG (1 bit, 128x64) travels base64 in the command
result, whose string values are bounded (payloads.MAX_MESSAGE): checked here.
"""

from __future__ import annotations

import base64

from harvester.hal import Backend
from harvester.hal.sim.i2c import SimI2C
from harvester.hal.sim.ssd1306 import Ssd1306Sim
from harvester.hal.sim.ssd1306_panel import HEIGHT, WIDTH
from harvester.mesh.payloads import MAX_MESSAGE
from harvester.runtime.actuator import ArgValue


class NoDisplay(Exception):
    """The node has no simulated display (there, or at all); says which."""


def panels(backend: Backend) -> list[tuple[int, int, Ssd1306Sim]]:
    """Every simulated SSD1306 as (bus, address, chip), in bus then address order."""
    i2c = backend.i2c
    if not isinstance(i2c, SimI2C):
        return []
    return [
        (number, address, device)
        for number, bus in sorted(i2c.buses.items())
        for address, device in sorted(bus.devices.items())
        if isinstance(device, Ssd1306Sim)
    ]


def display(backend: Backend, args: dict[str, ArgValue]) -> dict[str, ArgValue]:
    """The first panel, or the one at args `bus` and `address`: {"png": base64, "width",
    "height", "bus", "address"}. Raises NoDisplay, or ValueError for bad arguments."""
    unknown = sorted(set(args) - {"bus", "address"})
    if unknown:
        raise ValueError(f"sim.display takes bus and address, not {', '.join(unknown)}")
    found = panels(backend)
    for key in ("bus", "address"):
        if key in args:
            value = args[key]
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{key}: a whole number, not {value!r}")
            found = [p for p in found if p[0 if key == "bus" else 1] == value]
    if not found:
        where = " there" if args else ""
        raise NoDisplay(f"this node has no simulated SSD1306{where}")
    bus, address, chip = found[0]
    encoded = base64.b64encode(chip.to_png()).decode("ascii")
    if len(encoded) > MAX_MESSAGE:  # a 1-bit 128x64 PNG is ~1.2 KB at worst: a bug
        raise ValueError(f"the panel's PNG is {len(encoded)} characters in base64")
    return {"png": encoded, "width": WIDTH, "height": HEIGHT, "bus": bus, "address": address}
