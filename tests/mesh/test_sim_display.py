"""The sim.display command's answer, from a sim backend's SSD1306s."""

from __future__ import annotations

import base64

import png
import pytest

from harvester.config import SimConfig
from harvester.hal.sim.backend import SimBackend
from harvester.mesh.payloads import MAX_MESSAGE
from harvester.mesh.sim_display import NoDisplay, display, panels


def backend(*addresses: int) -> SimBackend:
    devices = [{"device": "ssd1306", "bus": 1, "address": a} for a in addresses]
    return SimBackend(SimConfig.model_validate({"i2c": devices, "time_scale": 0}))


def test_the_first_panel_or_the_one_asked_for() -> None:
    sim = backend(0x3D, 0x3C)
    assert [(b, a) for b, a, _ in panels(sim)] == [(1, 0x3C), (1, 0x3D)]
    sim.bus(1).transfer(0x3D, bytes([0x00, 0x8D, 0x14, 0xAF, 0xA5]), 0)  # 0x3d all lit
    first = display(sim, {})
    assert (first["bus"], first["address"], first["width"], first["height"]) == (1, 0x3C, 128, 64)
    chosen = display(sim, {"address": 0x3D})
    assert isinstance(chosen["png"], str)
    _w, _h, rows, _ = png.Reader(bytes=base64.b64decode(chosen["png"])).read()
    assert all(all(row) for row in rows)


def test_no_panel_bad_arguments_and_the_size_bound() -> None:
    with pytest.raises(NoDisplay, match="no simulated SSD1306"):
        display(backend(), {})
    with pytest.raises(NoDisplay, match="there"):
        display(backend(0x3C), {"bus": 2})
    with pytest.raises(ValueError, match="takes bus and address"):
        display(backend(0x3C), {"scale": 2})
    with pytest.raises(ValueError, match="address: a whole number"):
        display(backend(0x3C), {"address": "0x3c"})
    # The worst case for the PNG's size: a noisy panel still fits a command result.
    sim = backend(0x3C)
    noise = bytes((i * 2654435761 >> 7) & 0xFF for i in range(1024))
    sim.bus(1).transfer(0x3C, bytes([0x00, 0x8D, 0x14, 0xAF, 0x20, 0x00]), 0)
    sim.bus(1).transfer(0x3C, bytes([0x40, *noise]), 0)
    assert len(display(sim, {})["png"]) <= MAX_MESSAGE  # type: ignore[arg-type]
