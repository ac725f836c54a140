"""`harvester plugin build` and `harvester plugin precompile`."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from rich.markup import escape

from harvester.cli.ui import console, progress, report
from harvester.config import load_node_config
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.errors import PluginLoadError


def cmd_build(args: argparse.Namespace) -> int:
    """Build every plugin folder named; 1 if any failed, 2 (before building anything) when
    componentize-py or the contract is missing or a folder is no plugin."""
    # Only this command needs the build package (and componentize-py's tooling behind it).
    from harvester.build import BuildError

    try:
        return _build(args)
    except BuildError as exc:
        console.print(f"[red]cannot build:[/] {escape(str(exc))}", soft_wrap=True)
        return 2


def _build(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from harvester.build import BuildError, build_plugin, componentize_py_version, plugin_folders
    from harvester.build.user_cache import default_build_cache, default_out_dir

    out_dir = (args.out or default_out_dir()).absolute()
    cache_dir = (args.cache or default_build_cache()).absolute()
    componentize_py_version()  # one clear line now, not one failure per plugin
    dirs = plugin_folders([Path(d) for d in args.plugin_dirs])
    failed = 0
    with progress() as bar, ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        tasks = {
            pool.submit(build_plugin, d, out_dir=out_dir, cache_dir=cache_dir): (
                d,
                bar.add_task(f"building {d}", total=1),
            )
            for d in dirs
        }
        for future in as_completed(tasks):
            folder, task = tasks[future]
            bar.remove_task(task)
            try:
                result = future.result()
            except BuildError as exc:
                failed += 1
                report(bar, f"[red]failed[/] {escape(str(folder))}: {escape(str(exc))}")
                continue
            how = "cached" if result.cached else f"built in {result.seconds:.1f} s"
            report(bar, f"[green]{result.manifest.name}[/] → {result.output} ({how})")
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
    with progress() as bar:
        for plugin in config.plugins:
            task = bar.add_task(f"precompiling {plugin.name}", total=1)
            started = time.monotonic()
            component = config.plugin_dir / f"{plugin.component_name}.wasm"
            try:
                path = cache.ensure(component, plugin=plugin.name)
            except PluginLoadError as exc:
                failed += 1
                report(bar, f"[red]failed[/] {escape(str(exc))}")
                continue
            finally:
                bar.remove_task(task)
            took = time.monotonic() - started
            report(bar, f"[green]{plugin.name}[/] → {path} ({took:.1f} s)")
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("plugin", help="plugin tools").add_subparsers(
        dest="plugin_command", required=True
    )
    build = group.add_parser(
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

    pre = group.add_parser("precompile", help="compile a node's components into artifacts")
    pre.add_argument("--config", type=Path, required=True)
    pre.set_defaults(func=cmd_precompile)
