"""`harvester keys` (issue 9; CONTRACT STUB: the signed-deploy work fills it in)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Nothing yet: the command is registered once it exists."""
