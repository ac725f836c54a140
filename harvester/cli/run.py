"""`harvester run`: one node in the foreground, its events printed as lines."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from harvester.cli.ui import console, print_event
from harvester.config import NodeConfig, load_node_config


async def _run(config: NodeConfig) -> None:
    from harvester.node import run_node

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    console.print(
        f"node [bold]{config.name}[/] ({config.role}, {config.backend} backend): "
        f"{len(config.plugins)} plugins; Ctrl-C stops"
    )
    await run_node(config, stop=stop, on_event=print_event)
    console.print("stopped cleanly")


def cmd_run(args: argparse.Namespace) -> int:
    config = load_node_config(args.config)
    asyncio.run(_run(config))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run one node")
    run.add_argument("--config", type=Path, required=True, help="the node's TOML config")
    run.set_defaults(func=cmd_run)
