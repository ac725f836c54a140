"""`harvester record` and `harvester replay`: a plugin's hardware transactions to a file,
and the plugin run against that file instead of the hardware (docs/recording.md).

Next to a recording, `record` writes the readings the plugin reported while it was made
(`<name>.readings.json`); `replay` shows the readings it gets and compares them with
those when the file is there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from collections.abc import Callable
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from harvester.cli.ui import console, out, print_event
from harvester.config import ConfigError, NodeConfig, PluginConfig, load_node_config
from harvester.hal import Backend, make_backend
from harvester.hal.tap import read_recording, replay_backend
from harvester.node.events import Event, EventBus, ReadingsEvent
from harvester.node.runner import PluginRunner
from harvester.node.supervisor import Supervisor

Readings = dict[str, float]  # one poll's readings, metric -> value
CHECK_EVERY_S = 0.5  # how often a drive looks at its stop condition without events


def readings_path(recording: Path) -> Path:
    """Where the readings seen while `recording` was made are kept: `x.jsonl` ->
    `x.readings.json`."""
    return recording.with_suffix(".readings.json")


def write_readings(recording: Path, plugin: str, polls: list[Readings]) -> Path:
    path = readings_path(recording)
    path.write_text(json.dumps({"plugin": plugin, "polls": polls}, indent=1) + "\n")
    return path


def read_readings(recording: Path) -> list[Readings] | None:
    """The readings kept beside `recording`, or None if there are none.

    Raises ConfigError naming the file if it is there but not readable as such.
    """
    path = readings_path(recording)
    if not path.exists():
        return None
    try:
        polls = json.loads(path.read_text(encoding="utf-8"))["polls"]
        return [{str(k): float(v) for k, v in poll.items()} for poll in polls]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(path, [f"not a readings file: {exc}"]) from exc


def _plugin(config: NodeConfig, path: Path, name: str) -> PluginConfig:
    for plugin in config.plugins:
        if plugin.name == name:
            return plugin
    known = ", ".join(p.name for p in config.plugins) or "none"
    raise ConfigError(path, [f"no plugin named {name!r} (plugins: {known})"])


def _with_plugin(config: NodeConfig, plugin: PluginConfig, *, alone: bool) -> NodeConfig:
    others = () if alone else tuple(p for p in config.plugins if p.name != plugin.name)
    return config.model_copy(update={"plugins": (plugin, *others)})


async def _drive(
    config: NodeConfig,
    backend: Backend,
    plugin: str,
    *,
    done: Callable[[PluginRunner], bool],
    started: Callable[[PluginRunner], None] = lambda runner: None,
) -> list[Readings]:
    """Run the node until `done(runner of plugin)`, Ctrl-C or quarantine; every event
    printed as `harvester run` prints it. `started` gets the plugin's runner first.
    Returns the plugin's readings, one dict a poll (more polls than `done` wanted may
    have run by the time it is seen: the caller cuts the list)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    bus = EventBus(config.name)
    polls: list[Readings] = []

    def seen(event: Event) -> None:
        print_event(event)
        if isinstance(event, ReadingsEvent) and event.plugin == plugin:
            polls.append({r.metric: r.value for r in event.readings})

    async with bus.subscribe() as subscription:
        async with Supervisor(config, backend=backend, bus=bus) as supervisor:
            runner = supervisor.runners[plugin]
            started(runner)
            while not (stop.is_set() or done(runner) or runner.state == "quarantined"):
                try:
                    seen(await asyncio.wait_for(subscription.get(), CHECK_EVERY_S))
                except TimeoutError:
                    pass
        while not subscription.empty():  # what came while the stop condition was seen
            seen(subscription.get_nowait())
    return polls


def cmd_record(args: argparse.Namespace) -> int:
    config = load_node_config(args.config)
    plugin = _plugin(config, args.config, args.plugin)
    target: Path = args.out.resolve()
    recorded = plugin.model_copy(update={"record": target, "replay": None})
    node = _with_plugin(config, recorded, alone=False)
    console.print(
        f"recording [bold]{plugin.name}[/] on node {config.name} ({config.backend} backend)"
        f" for {args.polls} polls to {escape(str(target))}"
    )
    runner: list[PluginRunner] = []
    polls = asyncio.run(
        _drive(
            node,
            make_backend(node),
            plugin.name,
            done=lambda r: r.polls >= args.polls,
            started=runner.append,
        )
    )
    polls = polls[: args.polls]
    kept = write_readings(target, plugin.name, polls)
    lines = sum(1 for _ in target.open(encoding="utf-8")) - 1
    console.print(
        f"recorded {lines} transactions ({target.stat().st_size} bytes) in {len(polls)} polls"
        f" with readings; readings in {escape(str(kept))}"
    )
    ran = runner[0].polls if runner else 0
    if ran < args.polls:  # quarantined or interrupted: the file holds less than asked
        console.print(f"[red]stopped after {ran} of {args.polls} polls[/]")
        return 1
    return 0


def _table(polls: list[Readings]) -> Table:
    metrics = list(dict.fromkeys(m for poll in polls for m in poll))
    table = Table("poll", *metrics, title="readings")
    for number, poll in enumerate(polls, start=1):
        table.add_row(str(number), *(repr(poll[m]) if m in poll else "-" for m in metrics))
    return table


def cmd_replay(args: argparse.Namespace) -> int:
    config = load_node_config(args.config)
    plugin = _plugin(config, args.config, args.plugin)
    recording = read_recording(args.file)
    if recording.problem:
        console.print(f"[yellow]warning:[/] {escape(recording.problem)}", soft_wrap=True)
    expected = read_readings(args.file)
    wanted = args.polls or (len(expected) if expected is not None else None)
    # The calls the recording lacks within the polls asked for; the runner may be a poll
    # ahead of the events this loop has seen, so a miss is judged by when it happened.
    missed: list[str] = []
    runner: list[PluginRunner] = []

    def on_miss(message: str) -> None:
        if wanted is None or (runner and runner[0].polls < wanted):
            missed.append(message)

    backend, replayer = replay_backend(recording, on_miss=on_miss)
    # Alone, with nothing else between it and the file, polled back to back: the
    # recording's clock is virtual, so its waits cost nothing.
    replayed = plugin.model_copy(
        update={"record": None, "replay": None, "faults": (), "poll_interval_s": 0.01}
    )
    node = _with_plugin(config, replayed, alone=True)

    def done(runner: PluginRunner) -> bool:
        if missed:
            return True
        return runner.polls >= wanted if wanted is not None else replayer.unused == 0

    polls = asyncio.run(_drive(node, backend, plugin.name, done=done, started=runner.append))
    if wanted is not None:
        polls = polls[:wanted]
    out.print(_table(polls))
    return _verdict(args.file, missed, replayer.unused, polls, expected)


def _verdict(
    file: Path,
    missed: list[str],
    unused: int,
    polls: list[Readings],
    expected: list[Readings] | None,
) -> int:
    if missed:
        console.print(
            f"[red]the plugin asked for something the recording {escape(str(file))} lacks:[/]"
            f" {escape(missed[0])}" + (f" (and {len(missed) - 1} more)" if len(missed) > 1 else ""),
            soft_wrap=True,
        )
        return 1
    if expected is None:
        console.print(f"{len(polls)} polls replayed ({unused} recorded answers unused)")
        return 0
    for number, (got, want) in enumerate(zip(polls, expected, strict=False), start=1):
        if got != want:
            console.print(f"[red]poll {number} differs from the recording:[/] {got} != {want}")
            return 1
    if len(polls) < len(expected):
        console.print(f"[red]{len(polls)} polls with readings; {len(expected)} recorded[/]")
        return 1
    console.print(f"{len(polls)} polls replayed; every reading equals the recorded one")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    record = sub.add_parser("record", help="record a plugin's hardware transactions")
    record.add_argument("--config", type=Path, required=True, help="the node's TOML config")
    record.add_argument("--plugin", required=True, help="the plugin to record")
    record.add_argument("--out", type=Path, required=True, help="the recording to write")
    record.add_argument("--polls", type=_positive, default=5, help="stop after N polls (5)")
    record.set_defaults(func=cmd_record)

    replay = sub.add_parser("replay", help="run a plugin against a recording")
    replay.add_argument("file", type=Path, help="the recording (.jsonl)")
    replay.add_argument("--config", type=Path, required=True, help="the node's TOML config")
    replay.add_argument("--plugin", required=True, help="the plugin to run")
    replay.add_argument(
        "--polls",
        type=_positive,
        help="stop after N polls (default: as many as were recorded, or until the"
        " recording is used up)",
    )
    replay.set_defaults(func=cmd_replay)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
