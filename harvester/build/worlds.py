"""The contract's worlds (wit/worlds.wit): what each imports and exports, includes followed.

The scaffold picks a template by what a world exports, and the dev bench (dev_bench.py)
grants what it imports. The file is read, not parsed in full: worlds.wit holds only
`world NAME { include | import | export NAME; }` blocks, which is all this needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from harvester.build import contract
from harvester.build.errors import BuildError

WORLDS_FILE = "worlds.wit"
_WORLD = re.compile(r"^\s*world\s+([a-z][a-z0-9-]*)\s*\{(.*?)^\s*\}", re.S | re.M)
_ITEM = re.compile(r"^\s*(include|import|export)\s+([a-z][a-z0-9-]*)\s*;", re.M)
# The exports a host drives, in the order a world is classified by.
KINDS = {"sensor": "sensor", "actuator": "actuator", "http-handler": "http"}


@dataclass(frozen=True)
class World:
    name: str
    imports: frozenset[str]
    exports: frozenset[str]

    @property
    def kind(self) -> str | None:
        """ "sensor", "actuator" or "http" by what it exports; None for a world that exports
        nothing the host drives (`plugin-base`)."""
        return next((kind for export, kind in KINDS.items() if export in self.exports), None)


def read_worlds(wit_dir: Path) -> dict[str, World]:
    """Every world of `wit_dir/worlds.wit`, by name, with its includes resolved.

    Raises BuildError naming the file when it cannot be read or includes an unknown world.
    """
    path = wit_dir / WORLDS_FILE
    try:
        text = re.sub(r"//[^\n]*", "", path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BuildError(f"{path}: cannot read: {exc.strerror}") from exc
    raw = {m[1]: _ITEM.findall(m[2]) for m in _WORLD.finditer(text)}

    def resolve(name: str, seen: tuple[str, ...]) -> World:
        if name not in raw or name in seen:
            raise BuildError(f"{path}: world {seen[-1]!r} includes unknown world {name!r}")
        imports: set[str] = set()
        exports: set[str] = set()
        for what, item in raw[name]:
            if what == "include":
                inner = resolve(item, (*seen, name))
                imports |= inner.imports
                exports |= inner.exports
            else:
                (imports if what == "import" else exports).add(item)
        return World(name, frozenset(imports), frozenset(exports))

    return {name: resolve(name, ()) for name in raw}


@cache
def contract_worlds() -> dict[str, World]:
    """The worlds of the installed contract. Raises BuildError if it is missing."""
    return read_worlds(contract.wit_dir())
