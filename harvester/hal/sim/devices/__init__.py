"""The built-in simulated devices: each module here registers itself (registry.py).

Importing this package imports every module in it, so a new device is one new module.
"""

from __future__ import annotations

import importlib
import pkgutil


def _register_all() -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


_register_all()
