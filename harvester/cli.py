"""`harvester` command line: build plugins, precompile them, run a node."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from harvester.build import BuildError, build_plugin, componentize_py_version, plugin_folders
from harvester.build.user_cache import default_build_cache, default_out_dir
from harvester.config import ConfigError, NodeConfig, load_node_config
from harvester.hal.factory import BackendUnavailable
from harvester.node.events import Event, LogEvent, ReadingsEvent, StateEvent
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.errors import PluginLoadError

console = Console(stderr=True)
out = Console(highlight=False, soft_wrap=True)  # one event, one line, even when piped


def _progress() -> Progress:
    """Live spinners while work runs; results are printed as lines above them."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _report(progress: Progress, line: str) -> None:
    progress.console.print(line, soft_wrap=True)


def cmd_build(args: argparse.Namespace) -> int:
    """Build every plugin folder named; 1 if any failed. Raises BuildError (before building
    anything) when componentize-py or the contract is missing."""
    out_dir = (args.out or default_out_dir()).absolute()
    cache_dir = (args.cache or default_build_cache()).absolute()
    componentize_py_version()  # one clear line now, not one failure per plugin
    dirs = plugin_folders([Path(d) for d in args.plugin_dirs])
    failed = 0
    with _progress() as progress, ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        tasks = {
            pool.submit(build_plugin, d, out_dir=out_dir, cache_dir=cache_dir): (
                d,
                progress.add_task(f"building {d}", total=1),
            )
            for d in dirs
        }
        for future in as_completed(tasks):
            folder, task = tasks[future]
            progress.remove_task(task)
            try:
                result = future.result()
            except BuildError as exc:
                failed += 1
                _report(progress, f"[red]failed[/] {escape(str(folder))}: {escape(str(exc))}")
                continue
            how = "cached" if result.cached else f"built in {result.seconds:.1f} s"
            _report(progress, f"[green]{result.manifest.name}[/] → {result.output} ({how})")
    built = len(dirs) - failed
    console.print(
        f"{built} of {len(dirs)} plugins in {escape(str(out_dir))}"
        f" (build cache {escape(str(cache_dir))})",
        soft_wrap=True,
    )
    return 1 if failed else 0


def cmd_precompile(args: argparse.Namespace) -> int:
    config = load_node_config(args.config)
    cache = ArtifactCache(config.cache_dir)
    failed = 0
    with _progress() as progress:
        for plugin in config.plugins:
            task = progress.add_task(f"precompiling {plugin.name}", total=1)
            started = time.monotonic()
            component = config.plugin_dir / f"{plugin.component_name}.wasm"
            try:
                path = cache.ensure(component, plugin=plugin.name)
            except PluginLoadError as exc:
                failed += 1
                _report(progress, f"[red]failed[/] {escape(str(exc))}")
                continue
            finally:
                progress.remove_task(task)
            took = time.monotonic() - started
            _report(progress, f"[green]{plugin.name}[/] → {path} ({took:.1f} s)")
    return 1 if failed else 0


def _print_event(event: Event) -> None:
    stamp = time.strftime("%H:%M:%S", time.localtime(event.at))
    if isinstance(event, ReadingsEvent):
        values = "  ".join(
            f"{r.metric}={r.value:.2f}{(' ' + r.unit) if r.unit else ''}" for r in event.readings
        )
        out.print(f"{stamp} [cyan]{event.plugin:<14}[/] {values}")
    elif isinstance(event, LogEvent):
        colour = {"warn": "yellow", "error": "red"}.get(event.level, "white")
        who = "host" if event.origin == "host" else "plugin"
        # Plugin text is data, not markup: escape it so "[red]" prints as written.
        out.print(
            f"{stamp} [cyan]{event.plugin:<14}[/] [{colour}]{event.level:<5}[/] ({who})"
            f" {escape(event.message)}"
        )
    elif isinstance(event, StateEvent):
        out.print(
            f"{stamp} [cyan]{event.plugin:<14}[/] [magenta]{event.state}[/] {escape(event.reason)}"
        )


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
    await run_node(config, stop=stop, on_event=_print_event)
    console.print("stopped cleanly")


def cmd_run(args: argparse.Namespace) -> int:
    config = load_node_config(args.config)
    asyncio.run(_run(config))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="harvester", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one node")
    run.add_argument("--config", type=Path, required=True, help="the node's TOML config")
    run.set_defaults(func=cmd_run)

    plugin = sub.add_parser("plugin", help="plugin tools").add_subparsers(
        dest="plugin_command", required=True
    )
    build = plugin.add_parser(
        "build",
        help="build plugin folders into components",
        description="Build plugin folders into components, cached by content hash. Unless"
        " --out and --cache say otherwise, both go to the per-user cache:"
        " $XDG_CACHE_HOME/harvester, else ~/.cache/harvester.",
    )
    build.add_argument(
        "plugin_dirs",
        nargs="+",
        metavar="FOLDER",
        help="a plugin folder (with a plugin.toml) or a folder of them, e.g. plugins",
    )
    build.add_argument(
        "--out", type=Path, help="where the .wasm files go (default: <user cache>/plugins)"
    )
    build.add_argument(
        "--cache", type=Path, help="build cache folder (default: <user cache>/builds)"
    )
    build.set_defaults(func=cmd_build)

    pre = plugin.add_parser("precompile", help="compile a node's components into artifacts")
    pre.add_argument("--config", type=Path, required=True)
    pre.set_defaults(func=cmd_precompile)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(name)s: %(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    # Plugin lines are printed from events; keep them out of the Python log output.
    logging.getLogger("harvester.plugin").propagate = args.verbose
    try:
        return int(args.func(args))
    except ConfigError as exc:
        console.print(f"[red]config error:[/] {escape(str(exc))}", soft_wrap=True)
        return 2
    except BackendUnavailable as exc:
        console.print(f"[red]cannot run:[/] {escape(str(exc))}", soft_wrap=True)
        return 2
    except BuildError as exc:
        console.print(f"[red]cannot build:[/] {escape(str(exc))}", soft_wrap=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
