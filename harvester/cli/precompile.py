"""`harvester precompile`: artifacts made ahead of time, for image builds and first boot.

A node never compiles in its own process (docs/sandbox.md): it maps artifacts, and one
that is missing is made by a child process at start, ~5-9 s and ~420 MB each. This makes
them before: for a node config's components (into its cache_dir) or for component files
named (into --cache-dir), several at once in child processes, as many as memory allows.
`harvester plugin precompile` is the same command.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from rich.markup import escape

from harvester.cli.ui import console, positive_int, progress, report
from harvester.config import load_node_config
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.errors import PluginLoadError

COMPILE_PEAK_BYTES = 450 * 2**20  # one compile's peak RSS (~420 MB measured) with margin


def default_jobs() -> int:
    """As many compiles at once as there are cores and memory for (at least one)."""
    import psutil  # type: ignore[import-untyped]  # ships no type information

    by_memory = psutil.virtual_memory().available // COMPILE_PEAK_BYTES
    return max(1, min(os.cpu_count() or 1, int(by_memory)))


def _components(args: argparse.Namespace) -> tuple[dict[str, Path], Path | None]:
    """Plugin (or file) name -> component file, and the node's cache folder if a config."""
    found: dict[str, Path] = {}
    cache_dir = None
    if args.config is not None:
        config = load_node_config(args.config)
        cache_dir = config.cache_dir
        for plugin in config.plugins:
            found.setdefault(plugin.name, config.plugin_dir / f"{plugin.component_name}.wasm")
    for file in args.components:
        found.setdefault(file.stem, file)
    return found, cache_dir


def cmd_precompile(args: argparse.Namespace) -> int:
    """0 when every artifact is there; 1 if any failed; 2 when nothing says what to do."""
    components, node_cache = _components(args)
    cache_dir = args.cache_dir or node_cache
    if cache_dir is None or not components:
        console.print(
            "[red]nothing to precompile:[/] give --config NODE.toml and/or component files"
            " (with --cache-dir for files alone)"
        )
        return 2
    cache = ArtifactCache(cache_dir)
    jobs = args.jobs or default_jobs()
    console.print(
        f"precompiling {len(components)} components into {escape(str(cache_dir))}, {jobs} at a time"
    )
    started = time.monotonic()
    failed = compiled = 0
    took: list[float] = []

    def one(name: str, component: Path) -> tuple[Path, bool, float]:
        began = time.monotonic()
        said: list[str] = []  # the cache says a line when it really compiles
        path = cache.ensure(component, plugin=name, report=said.append)
        return path, bool(said), time.monotonic() - began

    with progress() as bar, ThreadPoolExecutor(max_workers=jobs) as pool:
        tasks = {
            pool.submit(one, name, file): (name, bar.add_task(f"precompiling {name}", total=None))
            for name, file in components.items()
        }
        for future in as_completed(tasks):
            name, task = tasks[future]
            bar.remove_task(task)
            try:
                path, made, seconds = future.result()
            except PluginLoadError as exc:
                failed += 1
                report(bar, f"[red]failed[/] {escape(str(exc))}")
                continue
            if made:
                compiled += 1
                took.append(seconds)
            how = f"compiled in {seconds:.1f} s" if made else "already there"
            report(bar, f"[green]{name}[/] → {escape(str(path))} ({how})")
    wall = time.monotonic() - started
    summed = f", {sum(took):.1f} s of compiling" if took else ""
    console.print(
        f"{len(components) - failed} of {len(components)} artifacts ready: {compiled} compiled,"
        f" {len(components) - failed - compiled} already there, in {wall:.1f} s{summed}"
    )
    return 1 if failed else 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("components", nargs="*", type=Path, metavar="COMPONENT.wasm")
    p.add_argument("--config", type=Path, help="a node config: every component it runs")
    p.add_argument("--cache-dir", type=Path, help="where artifacts go (default: the node's)")
    p.add_argument(
        "--jobs", type=positive_int, help="compiles at once (default: by cores and free memory)"
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "precompile",
        help="precompile components into artifacts (image builds, first boot)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(func=cmd_precompile)
