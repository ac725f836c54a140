"""`harvester run`: one node in the foreground, its events printed as lines.

A node whose config has a [mesh] table (or that is given `--cluster`) joins the fleet:
it runs its mesh services and, on the hub, the web server; otherwise it runs alone.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from harvester.cli.ui import console, print_event
from harvester.config import NodeConfig, load_node_config


async def _run_alone(config: NodeConfig, stop: asyncio.Event) -> None:
    from harvester.node import run_node

    await run_node(config, stop=stop, on_event=print_event)


async def _run_in_fleet(config: NodeConfig, stop: asyncio.Event) -> None:
    from harvester.mesh.service import MeshNode
    from harvester.web.server import node_web

    assert config.mesh is not None
    broker = config.broker
    console.print(f"mesh: MQTT {broker.host}:{broker.port} as {config.name!r}")
    async with MeshNode(config, on_event=print_event) as mesh, node_web(mesh) as urls:
        for what, url in urls.items():
            console.print(f"{what}: {url}")
        console.print("[bold green]ready[/]")
        await stop.wait()


async def _run(config: NodeConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    plugins = len(config.plugins) + (1 if config.native.monitor else 0)
    console.print(
        f"node [bold]{config.name}[/] ({config.role}, {config.backend} backend): "
        f"{plugins} plugins; Ctrl-C stops"
    )
    if config.mesh is None:
        await _run_alone(config, stop)
    else:
        await _run_in_fleet(config, stop)
    console.print("stopped cleanly")


def cmd_run(args: argparse.Namespace) -> int:
    config = load_node_config(args.config)
    if args.cluster is not None:
        from harvester.config.cluster import join, load_cluster_config

        try:
            config = join(config, load_cluster_config(args.cluster))
        except ValueError as exc:
            console.print(f"[red]cannot join {args.cluster}:[/] {exc}")
            return 2
    if config.mesh is not None:
        try:
            config.broker  # noqa: B018  (a spoke must know where its broker is)
        except ValueError as exc:
            console.print(f"[red]config error:[/] {args.config}: {exc}")
            return 2
    asyncio.run(_run(config))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run one node")
    run.add_argument("--config", type=Path, required=True, help="the node's TOML config")
    run.add_argument(
        "--cluster",
        type=Path,
        help="join this cluster (its broker, the node's credentials from its secrets_dir)",
    )
    run.set_defaults(func=cmd_run)
