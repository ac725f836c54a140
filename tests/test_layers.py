"""Layers run one way: config -> hal -> runtime -> node -> (mesh, web) -> cli.

A lower layer importing a higher one makes import cycles and hidden couplings; this reads
every module's imports (statically, so an import inside a function counts too).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "harvester"
ORDER = ["constants", "config", "hal", "runtime", "build", "node", "mesh", "web", "cli"]
# Tools beside the stack: `build` uses the runtime (to precompile) and nothing above it.
RANK = {name: i for i, name in enumerate(ORDER)}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "harvester" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in RANK else None


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        out.append((".".join(rel.parts).removesuffix(".__init__"), path))
    return out


@pytest.mark.parametrize("module,path", modules(), ids=[m for m, _ in modules()])
def test_no_module_imports_a_layer_above_its_own(module: str, path: Path) -> None:
    own = layer_of(module)
    if own is None:
        return
    upward = sorted(
        name for name in imports_of(path)
        if (target := layer_of(name)) is not None and RANK[target] > RANK[own]
    )  # fmt: skip
    assert upward == [], f"{module} ({own}) imports {upward}"


@pytest.mark.parametrize("package", ["config", "hal", "runtime", "node", "build"])
def test_each_layer_imports_on_its_own(package: str) -> None:
    """In a fresh interpreter, so no earlier import can mask a cycle."""
    done = subprocess.run(
        [sys.executable, "-c", f"import harvester.{package}"],
        capture_output=True, text=True, check=False, cwd=PACKAGE.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_run_node_is_exported_by_the_node_package() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from harvester.node import run_node, Supervisor"],
        capture_output=True, text=True, check=False, cwd=PACKAGE.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
