"""`harvester plugin test`: a plugin tried on the dev bench (harvester.node.trial), and
what it did as tables: its readings, its log lines, any fault, and the verdict."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from harvester.build.manifest import MANIFEST_NAME
from harvester.cli.ui import console, out, progress, shown
from harvester.config import load_node_config
from harvester.node.trial import Trial

PER_POLL_UP_TO = 6  # more polls than this are summed up as min / max / last


def plugin_folder(given: str, plugins_dir: Path) -> Path | None:
    """`given` as a plugin folder, else `plugins_dir/given`; None if neither is one."""
    for folder in (Path(given), plugins_dir / given):
        if (folder / MANIFEST_NAME).is_file():
            return folder
    return None


def readings_table(trial: Trial) -> Table:
    """One row per metric: its unit and device class, then its value per poll (or, past
    PER_POLL_UP_TO polls, min / max / last)."""
    values = trial.values
    per_poll = len(values) <= PER_POLL_UP_TO
    columns = [f"poll {n}" for n in range(1, len(values) + 1)]
    if not per_poll:
        columns = ["min", "max", "last"]
    table = Table("metric", "unit", "device class", *columns, title=f"{trial.plugin}: readings")
    for metric in trial.metrics:
        seen = [poll.get(metric.name) for poll in values]
        if per_poll:
            cells = [shown(v) if v is not None else "-" for v in seen]
        else:
            got = [v for v in seen if v is not None]
            cells = [shown(min(got)), shown(max(got)), shown(got[-1])] if got else ["-"] * 3
        # What a plugin names is data, not markup.
        table.add_row(escape(metric.name), escape(metric.unit), str(metric.device_class), *cells)
    return table


def _logs(trial: Trial) -> None:
    colours = {"warn": "yellow", "error": "red"}
    for line in trial.logs:
        colour = colours.get(line.level, "white")
        out.print(
            f"[{colour}]{line.level:<5}[/] ({line.origin}) {escape(line.message)}",
        )


def _show(trial: Trial) -> None:
    if trial.kind == "sensor" and trial.metrics:
        out.print(readings_table(trial))
    elif trial.kind == "sensor":
        out.print(f"{trial.plugin} describes no metrics (a display, say): no readings to show")
    elif trial.kind == "actuator":
        out.print(f"commands: {', '.join(trial.commands) or 'none'}")
    elif trial.kind == "http":
        for path, response in zip(trial.requested, trial.responses, strict=True):
            out.print(f"GET {escape(path)} → {response.status}, {len(response.body)} bytes")
    if trial.logs:
        out.print("[bold]log[/]")
        _logs(trial)


def run_and_report(args: argparse.Namespace) -> int:
    """Exit 0 if it started and every poll answered; 1 if it did not build, start or
    answer; 2 for a plugin, config or recording that cannot be found or read."""
    from harvester.build import BuildError
    from harvester.build.dev import build_message
    from harvester.node.trial import trial

    folder = plugin_folder(args.plugin, args.dir)
    if folder is None:
        console.print(
            f"[red]no plugin {escape(args.plugin)}:[/] neither {escape(args.plugin)} nor"
            f" {escape(str(args.dir / args.plugin))} holds a {MANIFEST_NAME}",
            soft_wrap=True,
        )
        return 2
    node = load_node_config(args.config) if args.config else None
    where = "a recording" if args.replay else (f"node {node.name}" if node else "the sim bench")
    try:
        with progress() as bar:
            bar.add_task(f"building {folder} and trying it on {where}", total=None)
            result = asyncio.run(
                trial(
                    folder,
                    polls=args.polls,
                    requests=args.request or ["/"],
                    node=node,
                    replay=args.replay,
                    build_cache=args.cache,
                )
            )
    except BuildError as exc:
        title = f"[red]{escape(str(folder))} does not build"
        console.print(Panel(escape(build_message(exc)), title=title, title_align="left"))
        return 1
    except LookupError as exc:
        console.print(f"[red]{escape(str(args.config))}:[/] {escape(str(exc))}")
        return 2
    build = "cached build" if result.build.cached else f"built in {result.build.seconds:.1f} s"
    console.print(f"{result.plugin}: {build}; ran on {where} ({result.backend} backend)")
    _show(result)
    if result.ok:
        what = {"sensor": f"{result.polls_done} polls answered"}.get(result.kind, "answered")
        console.print(f"[green]ok[/]: {result.plugin} started; {what}")
        return 0
    console.print(f"[red]failed[/]: {escape(result.problem or '')}", soft_wrap=True)
    return 1
