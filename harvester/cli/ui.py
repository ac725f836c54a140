"""What the CLI prints: consoles, progress spinners, one line per node event."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from harvester.node.events import Event, LogEvent, ReadingsEvent, StateEvent

if TYPE_CHECKING:
    from rich.progress import Progress

console = Console(stderr=True)
out = Console(highlight=False, soft_wrap=True)  # one event, one line, even when piped


def progress() -> Progress:
    """Live spinners while work runs; results are printed as lines above them."""
    # Imported here: `harvester run` shows no spinner, so it does not pay for rich.progress.
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        import argparse

        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def report(progress: Progress, line: str) -> None:
    progress.console.print(line, soft_wrap=True)


def shown(value: float) -> str:
    """A reading as a person reads it: big whole numbers (bytes, ohms) without decimals."""
    return f"{value:.0f}" if abs(value) >= 10_000 else f"{value:.2f}"


def print_event(event: Event) -> None:
    stamp = time.strftime("%H:%M:%S", time.localtime(event.at))
    if isinstance(event, ReadingsEvent):
        values = "  ".join(
            f"{r.metric}={shown(r.value)}{(' ' + r.unit) if r.unit else ''}" for r in event.readings
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
