"""The `harvester` command line. One module per command group, each with `register()`.

A command group imports at the top only what every command needs; what one command alone
needs (the build package, progress spinners) it imports when it runs, so `harvester run`
does not pay for componentize-py's tooling at start (bench/bench_host_start.py).
"""

from __future__ import annotations

import argparse
import logging
import sys

from rich.logging import RichHandler
from rich.markup import escape

from harvester.cli import broker, demo, deploy, keys, plugin, precompile, record, run, scan, secrets
from harvester.cli.ui import console
from harvester.config import ConfigError
from harvester.config.secrets import SecretsError
from harvester.hal.errors import BackendUnavailable

COMMANDS = (run, demo, plugin, precompile, deploy, keys, record, scan, secrets, broker)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="harvester", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
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
    except SecretsError as exc:
        console.print(f"[red]secrets:[/] {escape(str(exc))}", soft_wrap=True)
        return 2
    except BackendUnavailable as exc:
        console.print(f"[red]cannot run:[/] {escape(str(exc))}", soft_wrap=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
