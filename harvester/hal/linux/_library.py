"""Hardware libraries are imported here, lazily, when a node needs the capability: the
host imports and runs where they are absent, and a missing one is one line naming it."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Final

from harvester.hal.errors import BackendUnavailable

Importer = Callable[[str], ModuleType]

# import name -> the PyPI package that provides it
PACKAGES: Final = {
    "smbus2": "smbus2",
    "gpiod": "gpiod",
    "psutil": "psutil",
    "rpi_ws281x": "rpi-ws281x",
}


def require(
    module: str, needed_for: str, importer: Importer = importlib.import_module
) -> ModuleType:
    """`module`, imported. Raises BackendUnavailable naming it and how to install it."""
    try:
        return importer(module)
    except ImportError as exc:
        package = PACKAGES.get(module, module)
        raise BackendUnavailable(
            f"{needed_for} needs {package}, which is not installed"
            f" (pip install {package}, or harvester[linux])"
        ) from exc
