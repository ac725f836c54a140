"""Browser packages a plugin bundles (package.json + package-lock.json), installed by npm.

A plugin that serves web pages (plugins/dashboard) may take JavaScript libraries from npm,
pinned by its lock file. The build runs `npm ci --ignore-scripts --no-audit --no-fund`
once per distinct lock file into `<cache>/node_modules/<sha256 of the lock>/node_modules`
and stages a copy as `node_modules/` beside the plugin's staged copy, so the plugin reads
the files it serves at import time (componentize-py's pre-initialisation: what the module
holds then is in the component). `--ignore-scripts`: a package's install scripts never
run on the build machine; `npm ci`: exactly the lock file, or an error.

The source folder's own node_modules (what a developer's `npm install` left there) is
never hashed or copied: the lock file decides what goes in.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from harvester.build.errors import BuildError

PACKAGE_JSON = "package.json"
LOCK_FILE = "package-lock.json"
NODE_MODULES = "node_modules"
NPM_CACHE_DIR = "node_modules"
NPM_TIMEOUT_S = 300


class NpmError(BuildError):
    """npm is missing or could not install a plugin's packages; names the plugin."""

    def __init__(self, plugin: str, detail: str) -> None:
        super().__init__(f"{plugin}: cannot install its npm packages: {detail}")
        self.plugin = plugin


def has_npm_packages(plugin_dir: Path) -> bool:
    """Whether the plugin declares npm packages (a package.json beside its manifest)."""
    return (plugin_dir / PACKAGE_JSON).is_file()


def lock_key(plugin_dir: Path) -> str:
    """sha256 of the lock file: the install's cache key (the lock fixes every byte)."""
    return hashlib.sha256((plugin_dir / LOCK_FILE).read_bytes()).hexdigest()


def npm_command() -> list[str]:
    return ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]


def _last_lines(output: str, count: int = 3) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return " ".join(lines[-count:])[-400:] or "no output"


def install_node_modules(
    plugin: str, plugin_dir: Path, cache_dir: Path, *, timeout_s: float = NPM_TIMEOUT_S
) -> Path:
    """The `node_modules` folder for the plugin's lock file, from the cache or installed now.

    npm runs in a temporary folder holding only package.json and the lock file, which is
    renamed into place when complete, so a failed or concurrent install never leaves a
    half-filled folder. Raises NpmError (a BuildError) naming `plugin` when the lock file
    is missing, npm is not installed, fails or times out.
    """
    if not (plugin_dir / LOCK_FILE).is_file():
        raise NpmError(plugin, f"{PACKAGE_JSON} without {LOCK_FILE} (npm ci installs the lock)")
    final = cache_dir / NPM_CACHE_DIR / lock_key(plugin_dir)
    if (final / NODE_MODULES).is_dir():
        return final / NODE_MODULES
    npm = shutil.which("npm")
    if npm is None:
        raise NpmError(plugin, "npm is not installed (on Debian: apt-get install npm)")
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=".installing-"))
    try:
        for name in (PACKAGE_JSON, LOCK_FILE):
            shutil.copyfile(plugin_dir / name, staging / name)
        try:
            done = subprocess.run(
                [npm, *npm_command()[1:]],
                cwd=staging,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise NpmError(plugin, f"npm ci timed out after {timeout_s:.0f} s") from exc
        if done.returncode != 0:
            raise NpmError(plugin, f"npm ci failed: {_last_lines(done.stderr or done.stdout)}")
        if not (staging / NODE_MODULES).is_dir():
            (staging / NODE_MODULES).mkdir()  # a lock with no packages installs nothing
        try:
            os.rename(staging, final)
        except OSError as exc:
            if not (final / NODE_MODULES).is_dir():  # else a concurrent install won: use it
                raise NpmError(plugin, f"cannot store in {final}: {exc}") from exc
        return final / NODE_MODULES
    finally:
        shutil.rmtree(staging, ignore_errors=True)
