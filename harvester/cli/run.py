"""`harvester run`: one node in the foreground, its events printed as lines.

A node whose config has a [mesh] table (or that is given `--cluster`) joins the fleet:
it runs its mesh services and, on the hub, the web server; otherwise it runs alone.

With `--dev` it also watches its plugins' sources (`--sources`, default plugins/), the
SDK and the WIT contract, and rebuilds a plugin into the node's plugin folder when they
change; the node's folder watcher then swaps the new version in (build/dev.py).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from harvester.cli.ui import console, print_event
from harvester.config import NodeConfig, load_node_config

if TYPE_CHECKING:
    from harvester.build.dev import DevEvent, SourceWatcher


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


def dev_sources(config: NodeConfig, sources: Path) -> dict[str, Path]:
    """The node's plugins that have sources under `sources` (component name -> folder);
    says which ones are not watched, and why."""
    from harvester.build import BuildError, load_manifest

    found: dict[str, Path] = {}
    for plugin in config.plugins:
        name = plugin.component_name
        folder = sources / name
        try:
            manifest = load_manifest(folder)
        except BuildError as exc:
            console.print(f"[yellow]dev: {name} is not watched:[/] {escape(str(exc))}")
            continue
        if manifest.name != name:
            console.print(
                f"[yellow]dev: {name} is not watched:[/] {escape(str(folder))} builds"
                f" {manifest.name!r}"
            )
            continue
        found[name] = folder
    return found


def dev_reporter(config: NodeConfig) -> Callable[[DevEvent], None]:
    """How `--dev` tells what its watcher does: a line per step, a panel per build error."""
    from rich.panel import Panel

    then = (
        "the node swaps it in"
        if config.reload.watch
        else "restart the plugin to use it (the node's reload.watch is off)"
    )

    def report(event: DevEvent) -> None:
        name = f"[bold]{event.plugin}[/]"
        if event.kind == "watching":
            console.print(f"dev: watching {escape(event.detail)}", soft_wrap=True)
        elif event.kind == "rebuilding":
            console.print(f"dev: rebuilding {name} … ({escape(event.detail)})")
        elif event.kind == "unchanged":
            return  # a save that changed nothing the build reads
        elif event.kind == "built":
            how = "from the build cache" if event.cached else f"in {event.seconds:.1f} s"
            console.print(f"dev: {name} built {how}; {then}")
        else:
            title = f"[red]{event.plugin} does not build[/]; the running version stays"
            console.print(Panel(escape(event.detail), title=title, title_align="left"))

    return report


async def _with_dev(
    watcher: SourceWatcher | None, stop: asyncio.Event, node: Coroutine[None, None, None]
) -> None:
    """Run `node`; with a watcher, build what changed first, then watch while it runs."""
    if watcher is None:
        await node
        return
    await watcher.rebuild(set(watcher.sources), why="start")
    if stop.is_set():  # Ctrl-C while building: do not start the node at all
        node.close()
        return
    watching = asyncio.create_task(watcher.run(stop))
    try:
        await node
    finally:
        stop.set()
        await watching


async def _run(config: NodeConfig, watcher: SourceWatcher | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    plugins = len(config.plugins) + (1 if config.native.monitor else 0)
    console.print(
        f"node [bold]{config.name}[/] ({config.role}, {config.backend} backend): "
        f"{plugins} plugins; Ctrl-C stops"
    )
    node = _run_alone(config, stop) if config.mesh is None else _run_in_fleet(config, stop)
    await _with_dev(watcher, stop, node)
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
    watcher = None
    if args.dev:
        from harvester.build.dev import SourceWatcher
        from harvester.build.user_cache import default_build_cache

        watcher = SourceWatcher(
            dev_sources(config, args.sources),
            out_dir=config.plugin_dir,
            build_cache=args.cache or default_build_cache(),
            report=dev_reporter(config),
        )
    asyncio.run(_run(config, watcher))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run one node")
    run.add_argument("--config", type=Path, required=True, help="the node's TOML config")
    run.add_argument(
        "--cluster",
        type=Path,
        help="join this cluster (its broker, the node's credentials from its secrets_dir)",
    )
    run.add_argument(
        "--dev",
        action="store_true",
        help="also rebuild a plugin when its sources, the SDK or the WIT change",
    )
    run.add_argument(
        "--sources",
        type=Path,
        default=Path("plugins"),
        help="with --dev: the folder holding the plugins' source folders (plugins)",
    )
    run.add_argument(
        "--cache", type=Path, help="with --dev: build cache folder (default: the user cache)"
    )
    run.set_defaults(func=cmd_run)
