"""Discovery: which I2C devices answer on a node's buses, what they are, and the grant a
node config needs for each (`harvester scan`).

Probing, after i2c-tools' i2cdetect. In its default mode i2cdetect probes with an SMBus
"quick write" (the address with the R/W bit low and no data) everywhere except 0x30-0x37
and 0x50-0x5F, where it reads one byte instead: a quick write there can corrupt an EEPROM
(the 24RF08 takes it as the first half of a write) and lock some chips. Our HAL has no
quick write, and a one-byte read with no write before it is the probe every chip takes
without changing state, so this probes every address 0x08..0x77 with a read of one byte.
A device that acknowledges its address is there; one that does not is not. (A write-only
chip that refuses reads would be missed; i2cdetect's `-r` has the same blind spot.)

Identification then looks only where a known chip can sit (KNOWN_CHIPS, data, not code):
a chip with an id register gets its register pointer written and one byte read back (for
the Bosch sensors at 0x76/0x77, the write of 0xD0 only moves their read pointer); a chip
without one (the SSD1306) is told by the status byte the probe already read, with no write
at all. Nothing else is written to any device.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harvester.config import NodeConfig
from harvester.hal.backend import BACKEND_LINUX
from harvester.hal.capabilities import I2C
from harvester.hal.errors import HalError, NoAcknowledge

FIRST_ADDRESS, LAST_ADDRESS = 0x08, 0x77  # i2cdetect's default range (no reserved ones)
HEADER_BUS = 1  # the Raspberry Pi header's I2C (GPIO 2/3): scanned when nothing else is known
DEV_DIR = Path("/dev")  # the kernel's /dev/i2c-N nodes
NOT_SUPPORTED = "not supported by a plugin yet"


@dataclass(frozen=True)
class KnownChip:
    """A chip told by one byte: at `register` (None: the byte a plain read returns), masked
    with `mask`, it reads one of `ids`."""

    name: str
    addresses: frozenset[int]
    register: int | None
    mask: int
    ids: frozenset[int]
    plugin: str | None  # the plugin that drives it; None: none does yet


def _chip(
    name: str,
    addresses: Iterable[int],
    register: int | None,
    ids: Iterable[int],
    plugin: str | None,
    mask: int = 0xFF,
) -> KnownChip:
    return KnownChip(name, frozenset(addresses), register, mask, frozenset(ids), plugin)


BOSCH_ID_REGISTER = 0xD0  # "chip_id" / "id" in the BME680, BME280 and BMP280 datasheets
# The SSD1306's status byte (a read with no command before it): D7 busy, D6 display off;
# the low nibble is fixed by the part, 0x03 or 0x06 on SSD1306s (an SH1106 reads 0x08),
# which is how display libraries tell the two apart.
SSD1306_STATUS_ID_MASK = 0x0F

KNOWN_CHIPS: tuple[KnownChip, ...] = (
    _chip("BME680", (0x76, 0x77), BOSCH_ID_REGISTER, (0x61,), "bme680"),
    _chip("BME280", (0x76, 0x77), BOSCH_ID_REGISTER, (0x60,), None),
    _chip("BMP280", (0x76, 0x77), BOSCH_ID_REGISTER, (0x56, 0x57, 0x58), None),
    _chip("SSD1306", (0x3C, 0x3D), None, (0x03, 0x06), "oled", SSD1306_STATUS_ID_MASK),
    _chip("SH1106", (0x3C, 0x3D), None, (0x08,), None, SSD1306_STATUS_ID_MASK),
)


@dataclass(frozen=True)
class Found:
    """A device that acknowledged its address; `chip` is None when it is not one we know,
    and `note` then says why."""

    bus: int
    address: int
    chip: KnownChip | None
    note: str = ""

    @property
    def grant(self) -> str:
        """The line to paste into the plugin's table in the node config."""
        return f"grants.i2c = [{{ bus = {self.bus}, addresses = [{self.address:#04x}] }}]"

    @property
    def plugin(self) -> str | None:
        return self.chip.plugin if self.chip else None


@dataclass(frozen=True)
class BusScan:
    bus: int
    found: tuple[Found, ...]
    # Addresses whose probe failed other than by no-acknowledge (a stuck or noisy bus).
    failed: tuple[tuple[int, str], ...] = ()


def _probe(i2c: I2C, bus: int, address: int) -> int | None:
    """The byte a one-byte read returns, or None when nothing acknowledges the address.
    Raises HalError for any other failure."""
    try:
        return i2c.transfer(bus, address, b"", 1)[0]
    except NoAcknowledge:
        return None


def identify(i2c: I2C, bus: int, address: int, first_byte: int) -> Found:
    """Which known chip answers at `address` (whose probe read `first_byte`)."""
    candidates = [c for c in KNOWN_CHIPS if address in c.addresses]
    if not candidates:
        return Found(bus, address, None, "no known chip uses this address")
    # What each id register read (or why it could not be), each read once.
    read: dict[int | None, int | str] = {None: first_byte}
    for chip in candidates:
        register = chip.register
        if register not in read and register is not None:
            try:
                read[register] = i2c.transfer(bus, address, bytes([register]), 1)[0]
            except HalError as exc:
                read[register] = f"{type(exc).__name__}: {exc}"
        value = read[register]
        if isinstance(value, int) and (value & chip.mask) in chip.ids:
            return Found(bus, address, chip)
    shown = ", ".join(
        f"{'status byte' if reg is None else f'register {reg:#04x}'}: "
        + (f"{value:#04x}" if isinstance(value, int) else f"no answer ({value})")
        for reg, value in read.items()
        if any(c.register == reg for c in candidates)
    )
    return Found(bus, address, None, f"not a chip we know ({shown})")


def scan_bus(i2c: I2C, bus: int) -> BusScan:
    """Probe every address of `bus` (see the module docstring) and identify what answers."""
    found: list[Found] = []
    failed: list[tuple[int, str]] = []
    for address in range(FIRST_ADDRESS, LAST_ADDRESS + 1):
        try:
            first = _probe(i2c, bus, address)
        except HalError as exc:
            failed.append((address, f"{type(exc).__name__}: {exc}"))
            continue
        if first is not None:
            found.append(identify(i2c, bus, address, first))
    return BusScan(bus, tuple(found), tuple(failed))


def node_buses(config: NodeConfig, *, dev: Path = DEV_DIR) -> tuple[int, ...]:
    """The buses to scan when none is named: every bus a plugin is granted, every bus the
    sim puts a device on (sim) or every /dev/i2c-N (linux), and at least the header's."""
    buses = {g.bus for p in config.plugins for g in p.grants.i2c}
    if config.backend == BACKEND_LINUX:
        buses |= {
            int(node.name.removeprefix("i2c-"))
            for node in dev.glob("i2c-*")
            if node.name.removeprefix("i2c-").isdigit()
        }
    else:
        buses |= {d.bus for d in config.sim.i2c}
    return tuple(sorted(buses or {HEADER_BUS}))
