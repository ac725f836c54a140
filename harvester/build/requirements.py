"""Third-party packages a plugin bundles (manifest `requirements`), installed by pip.

Each distinct set of pins is installed once into `<cache>/requirements/<key>/`, where the
key is the sha256 of the sorted pins, and that folder goes on componentize-py's Python
path. pip runs with:

- `--no-deps`: CircuitPython drivers depend on Adafruit-Blinka, which touches real
  hardware; the manifest lists every package the plugin needs instead.
- `--only-binary=:all:` for the guest's interpreter (`--python-version GUEST_PYTHON
  --implementation py --abi none --platform any`): only pure-Python wheels qualify, so a
  package with native code, or one published only as an sdist (whose build would run
  its setup code here), is refused by pip with "No matching distribution", naming it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from harvester.build.errors import BuildError
from harvester.build.manifest import project_name

# componentize-py 0.25.1 bundles CPython 3.14: wheels are chosen for it, not for the host.
GUEST_PYTHON = "3.14"
PIP_TIMEOUT_S = 300
REQUIREMENTS_DIR = "requirements"
_NATIVE = (".so", ".pyd", ".dylib")


class RequirementsError(BuildError):
    """pip could not install a plugin's requirements; names the plugin and the pins."""

    def __init__(self, plugin: str, failed: Sequence[str], detail: str) -> None:
        super().__init__(
            f"{plugin}: cannot install requirement {', '.join(failed)}"
            + (f": {detail}" if detail else "")
        )
        self.plugin = plugin
        self.failed = tuple(failed)


def requirements_key(requirements: Sequence[str]) -> str:
    """sha256 of the sorted pins, one a line: the install's cache key."""
    return hashlib.sha256("\n".join(sorted(requirements)).encode()).hexdigest()


def pip_command(requirements: Sequence[str], target: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--only-binary=:all:",
        "--implementation=py",
        f"--python-version={GUEST_PYTHON}",
        "--abi=none",
        "--platform=any",
        "--no-compile",
        "--no-input",
        "--disable-pip-version-check",
        "--quiet",
        "--target",
        str(target),
        *sorted(requirements),
    ]


def _culprits(requirements: Sequence[str], output: str) -> list[str]:
    """The pins pip's error output names (all of them when it names none)."""
    said = re.sub(r"[-_.]+", "-", output.lower())
    named = [r for r in requirements if project_name(r) in said]
    return named or list(requirements)


def _errors(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("ERROR")]
    return " ".join(lines[-2:]) if lines else output.strip()[-400:]


def install_requirements(
    plugin: str, requirements: Sequence[str], cache_dir: Path, *, timeout_s: float = PIP_TIMEOUT_S
) -> Path:
    """The folder holding `requirements` installed, from the cache or installed now.

    The install goes to a temporary folder beside the final one and is renamed into place
    when complete, so a failed or concurrent install never leaves a half-filled folder.
    Raises RequirementsError (a BuildError) naming `plugin` and the pins pip refused, or
    a package that ships native code.
    """
    final = cache_dir / REQUIREMENTS_DIR / requirements_key(requirements)
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=".installing-"))
    try:
        try:
            done = subprocess.run(
                pip_command(requirements, staging),
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise RequirementsError(
                plugin, requirements, f"pip timed out after {timeout_s:.0f} s"
            ) from exc
        if done.returncode != 0:
            output = done.stderr or done.stdout
            raise RequirementsError(plugin, _culprits(requirements, output), _errors(output))
        native = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*"))
        native = [name for name in native if name.endswith(_NATIVE)]
        if native:
            raise RequirementsError(
                plugin, requirements, f"native code cannot run in the sandbox: {native[0]}"
            )
        try:
            os.rename(staging, final)
        except OSError as exc:
            if not final.is_dir():  # else a concurrent install finished first: use it
                detail = f"cannot store in {final}: {exc}"
                raise RequirementsError(plugin, requirements, detail) from exc
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)
