"""Discovery over the sim's I2C: what answers, what it is, the grant to give it, and that
the scan writes nothing to a device but a Bosch sensor's register pointer."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvester.config import NodeConfig, SimConfig
from harvester.hal.errors import HalTimeout, NackSource, NoAcknowledge
from harvester.hal.scan import KNOWN_CHIPS, node_buses, scan_bus
from harvester.hal.sim.backend import SimBackend


class Fake:
    """A register-level device: a register pointer set by a one-byte write, reads from it
    (or, with no register file, a fixed byte: a status read). Records every message."""

    def __init__(
        self, registers: dict[int, int] | None = None, *, status: int = 0xFF,
        refuse_writes: bool = False, read_error: Exception | None = None,
    ) -> None:  # fmt: skip
        self.registers = registers
        self.status = status
        self.refuse_writes = refuse_writes
        self.read_error = read_error
        self.pointer = 0
        self.messages: list[tuple[str, object]] = []

    def write(self, data: bytes) -> None:
        self.messages.append(("write", bytes(data)))
        if self.refuse_writes:
            raise NoAcknowledge(NackSource.DATA, "register pointer refused")
        self.pointer = data[0]

    def read(self, length: int) -> bytes:
        self.messages.append(("read", length))
        if self.read_error:
            raise self.read_error
        if self.registers is None:
            return bytes([self.status] * length)
        return bytes(self.registers.get(self.pointer + i, 0) for i in range(length))


def test_finds_the_simulated_bme680_and_prints_its_grant() -> None:
    sim = SimBackend(SimConfig(time_scale=0, i2c=[{"device": "bme680", "address": 0x77}]))
    scan = scan_bus(sim.i2c, 1)
    assert [(f.address, f.chip and f.chip.name, f.plugin) for f in scan.found] == [
        (0x77, "BME680", "bme680")
    ]
    assert scan.found[0].grant == "grants.i2c = [{ bus = 1, addresses = [0x77] }]"
    assert scan.failed == ()


def test_a_bus_with_nothing_on_it_finds_nothing() -> None:
    sim = SimBackend(SimConfig(time_scale=0))
    empty = scan_bus(sim.i2c, 1)
    assert empty.found == () and empty.failed == ()
    # every address 0x08..0x77 was probed and none answered
    assert scan_bus(sim.i2c, 7).found == ()


def test_the_simulated_ssd1306_is_told_by_its_status_byte_without_a_write() -> None:
    sim = SimBackend(
        SimConfig(time_scale=0, i2c=[{"device": "ssd1306", "bus": 1, "address": 0x3D}])
    )
    before = sim.bus(1).transactions
    (found,) = scan_bus(sim.i2c, 1).found
    assert (found.address, found.chip and found.chip.name, found.plugin) == (
        0x3D,
        "SSD1306",
        "oled",
    )
    # one read per address that answered: the probe; no id register write
    assert sim.bus(1).transactions - before == 1


def test_an_sh1106_is_told_from_an_ssd1306_by_the_status_low_nibble() -> None:
    sim = SimBackend(SimConfig(time_scale=0))
    display = Fake(status=0x48)  # display off, low nibble 0x08: an SH1106
    sim.bus(1).attach(0x3C, display)
    (found,) = scan_bus(sim.i2c, 1).found
    assert found.chip is not None and found.chip.name == "SH1106" and found.plugin is None
    assert all(kind == "read" for kind, _ in display.messages)


def test_a_bme280_is_named_but_has_no_plugin_yet() -> None:
    sim = SimBackend(SimConfig(time_scale=0))
    sim.bus(1).attach(0x76, Fake({0xD0: 0x60}))
    (found,) = scan_bus(sim.i2c, 1).found
    assert found.chip is not None and found.chip.name == "BME280"
    assert found.plugin is None


def test_a_device_that_refuses_the_id_register_is_unknown_saying_why() -> None:
    sim = SimBackend(SimConfig(time_scale=0))
    sim.bus(1).attach(0x77, Fake({0xD0: 0x61}, refuse_writes=True))
    (found,) = scan_bus(sim.i2c, 1).found
    assert found.chip is None
    assert "register 0xd0: no answer (NoAcknowledge" in found.note


def test_an_unknown_id_is_unknown_showing_what_it_read() -> None:
    sim = SimBackend(SimConfig(time_scale=0))
    sim.bus(1).attach(0x77, Fake({0xD0: 0x42}))
    (found,) = scan_bus(sim.i2c, 1).found
    assert found.chip is None and "register 0xd0: 0x42" in found.note


def test_elsewhere_the_scan_only_reads() -> None:
    sim = SimBackend(SimConfig(time_scale=0))
    eeprom = Fake({0: 0xAA})
    sim.bus(1).attach(0x50, eeprom)
    (found,) = scan_bus(sim.i2c, 1).found
    assert found.address == 0x50 and found.chip is None
    assert eeprom.messages == [("read", 1)]


def test_a_probe_that_fails_otherwise_is_reported_not_raised() -> None:
    sim = SimBackend(SimConfig(time_scale=0))
    sim.bus(1).attach(0x20, Fake(read_error=HalTimeout("clock stretched too long")))
    scan = scan_bus(sim.i2c, 1)
    assert scan.found == ()
    assert [a for a, _ in scan.failed] == [0x20] and "HalTimeout" in scan.failed[0][1]


def test_the_table_has_no_two_chips_that_cannot_be_told_apart() -> None:
    seen: set[tuple[int, int | None, int, int]] = set()
    for chip in KNOWN_CHIPS:
        for address in chip.addresses:
            for chip_id in chip.ids:
                key = (address, chip.register, chip.mask, chip_id)
                assert key not in seen, chip.name
                seen.add(key)


@pytest.mark.parametrize(
    ("raw", "dev_nodes", "expected"),
    [
        ({}, [], (1,)),
        ({"sim": {"i2c": [{"device": "bme680", "bus": 3}]}}, [], (3,)),
        (
            {"plugins": [{"name": "x", "grants": {"i2c": [{"bus": 4, "addresses": [0x10]}]}}]},
            [],
            (4,),
        ),
        ({"backend": "linux"}, ["i2c-1", "i2c-20", "i2c-dev"], (1, 20)),
    ],
)
def test_the_buses_scanned_by_default(tmp_path: Path, raw, dev_nodes, expected) -> None:
    for name in dev_nodes:
        (tmp_path / name).touch()
    config = NodeConfig.model_validate({"name": "n", **raw})
    assert node_buses(config, dev=tmp_path) == expected
