"""componentize-py, the one build tool: is it there, which version, and running it.

It is an optional dependency (the `build` extra): a node only runs components, so only a
machine that builds plugins installs it. It runs in a child process of this interpreter.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from harvester.build.errors import ComponentizeError, ToolMissing

TOOL = "componentize-py"
INSTALL = "pip install 'harvester[build]' (or componentize-py==0.25.1)"
BUILD_TIMEOUT_S = 900
_LAUNCH = "import sys, componentize_py; sys.argv[0] = 'componentize-py'; componentize_py.script()"


def componentize_py_version() -> str:
    """The installed componentize-py's version, without importing it (a 48 MB library).

    Raises ToolMissing when it cannot be imported here, since the build would fail the same
    way in the child process.
    """
    try:
        found = importlib.util.find_spec("componentize_py") is not None
    except (ImportError, ValueError):
        found = False
    if found:
        try:
            return version(TOOL)
        except PackageNotFoundError:
            pass
    raise ToolMissing(TOOL, INSTALL)


def componentize(
    *,
    plugin: str,
    wit_dirs: Sequence[Path],
    world: str,
    python_path: Sequence[Path],
    module: str,
    out: Path,
    timeout_s: float = BUILD_TIMEOUT_S,
) -> None:
    """Build `module` (found on `python_path`) for `world` in `wit_dirs` into `out`.

    Raises ToolMissing when componentize-py is not installed, and ComponentizeError (naming
    `plugin`, with componentize-py's output) when it fails or runs past `timeout_s`.
    """
    componentize_py_version()
    cmd = [sys.executable, "-c", _LAUNCH]
    for wit in wit_dirs:
        cmd += ["-d", str(wit)]
    cmd += ["-w", world, "componentize"]
    for path in python_path:
        cmd += ["-p", str(path)]
    cmd += [module, "-o", str(out)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ComponentizeError(plugin, f"{TOOL} timed out after {timeout_s:.0f} s") from exc
    if done.returncode != 0:
        raise ComponentizeError(plugin, f"{TOOL} failed", (done.stderr or done.stdout).strip())
