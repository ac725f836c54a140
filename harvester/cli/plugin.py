"""`harvester plugin build|new|test|precompile`: the plugin author's tools.

`new` and `test` are the developer loop (docs/lifecycle-dev.md); `precompile` is kept as
an alias of the top-level `harvester precompile`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.markup import escape

from harvester.cli.ui import console, positive_int, progress, report


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


def cmd_new(args: argparse.Namespace) -> int:
    from harvester.build.scaffold import ScaffoldError, scaffold

    try:
        folder = scaffold(args.name, args.world, plugins_dir=args.dir)
    except ScaffoldError as exc:
        console.print(f"[red]cannot create {escape(args.name)}:[/] {escape(str(exc))}")
        return 2
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        console.print(f"  wrote {escape(str(path))}", soft_wrap=True)
    console.print(
        f"[green]{escape(args.name)}[/] ({args.world}) in {escape(str(folder))}. Next:\n"
        f"  harvester plugin test {escape(str(folder))}   # build, run on the sim bench\n"
        f"  pytest {escape(str(folder))}                  # its own test",
        soft_wrap=True,
    )
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from harvester.cli.trial_report import run_and_report

    return run_and_report(args)


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

    new = group.add_parser(
        "new",
        help="scaffold a plugin folder that builds and passes its own test",
        description="Write PLUGINS/NAME/: app.py, plugin.toml (with a [dev] table: the"
        " grants and simulated devices it is tried with) and tests/test_NAME.py.",
    )
    new.add_argument("name", metavar="NAME", help="the plugin's name, e.g. soil-moisture")
    new.add_argument("--world", required=True, help="a world of wit/worlds.wit")
    new.add_argument(
        "--dir", type=Path, default=Path("plugins"), help="where plugin folders are (plugins)"
    )
    new.set_defaults(func=cmd_new)

    test = group.add_parser(
        "test",
        help="build a plugin and try it sandboxed on the simulated bench",
        description="Build the plugin (cached), run it in a simulated node under the grants"
        " of its [dev] table (or of --config's entry for it), poll it N times and print its"
        " readings, log lines and any fault. Exit 0 only if it started and every poll"
        " answered.",
    )
    test.add_argument("plugin", metavar="NAME|FOLDER", help="plugins/NAME, or a plugin folder")
    test.add_argument("--polls", type=positive_int, default=3, help="how many polls (3)")
    test.add_argument("--replay", type=Path, help="answer its hardware calls from a recording")
    test.add_argument("--config", type=Path, help="a node config: its entry, backend and sim")
    test.add_argument(
        "--request",
        action="append",
        metavar="PATH",
        help="an HTTP handler: GET this path (repeatable; default /)",
    )
    test.add_argument(
        "--dir", type=Path, default=Path("plugins"), help="where NAME is looked for (plugins)"
    )
    test.add_argument("--cache", type=Path, help="build cache folder (default: the user cache)")
    test.set_defaults(func=cmd_test)

    from harvester.cli.precompile import add_arguments, cmd_precompile

    pre = group.add_parser("precompile", help="the same as `harvester precompile`")
    add_arguments(pre)
    pre.set_defaults(func=cmd_precompile)
