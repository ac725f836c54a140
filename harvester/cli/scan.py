"""`harvester scan`: which I2C devices answer on the node's buses, what they are, and the
grant to paste into the node config for each (harvester/hal/scan.py does the probing)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from harvester.cli.ui import console, out
from harvester.config import load_node_config
from harvester.hal import make_backend
from harvester.hal.scan import (
    FIRST_ADDRESS,
    LAST_ADDRESS,
    NOT_SUPPORTED,
    BusScan,
    node_buses,
    scan_bus,
)


def print_scan(scan: BusScan) -> None:
    out.print(
        f"i2c bus {scan.bus}: {len(scan.found)} device(s) "
        f"at {FIRST_ADDRESS:#04x}..{LAST_ADDRESS:#04x}"
    )
    for f in scan.found:
        chip = f.chip.name if f.chip else "unknown"
        out.print(f"  {f.address:#04x}  {chip}")
        if f.chip is None:
            out.print(f"        {escape(f.note)}")
            continue
        out.print(f"        plugin: {f.plugin or NOT_SUPPORTED}")
        out.print(f"        {escape(f.grant)}")
    for address, error in scan.failed:
        out.print(f"  {address:#04x}  [red]probe failed:[/] {escape(error)}")


def cmd_scan(args: argparse.Namespace) -> int:
    """0 when the scan ran (finding nothing is an answer too), 2 when the node has no I2C."""
    config = load_node_config(args.config)
    backend = make_backend(config)
    if backend.i2c is None:
        console.print(f"[red]cannot scan:[/] node {config.name!r} has no I2C ({config.backend})")
        return 2
    buses = (args.bus,) if args.bus is not None else node_buses(config)
    console.print(f"node [bold]{config.name}[/] ({config.backend} backend): scanning i2c {buses}")
    for bus in buses:
        print_scan(scan_bus(backend.i2c, bus))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    scan = sub.add_parser("scan", help="find I2C devices and print the plugin and grant for each")
    scan.add_argument("--config", type=Path, required=True, help="the node's TOML config")
    scan.add_argument("--bus", type=int, help="scan only this bus (default: the node's)")
    scan.set_defaults(func=cmd_scan)
