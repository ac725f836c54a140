"""Where builds go when the caller does not say: the per-user cache, never the working
directory (XDG Base Directory spec: $XDG_CACHE_HOME, else ~/.cache)."""

from __future__ import annotations

import os
from pathlib import Path

APP_DIR = "harvester"


def user_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/harvester`, or `~/.cache/harvester`.

    A relative XDG_CACHE_HOME is ignored, as the spec says. Raises RuntimeError when no
    home directory can be found and XDG_CACHE_HOME is not set.
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / APP_DIR


def default_out_dir() -> Path:
    """Built components (`<name>.wasm`), when `--out` is not given."""
    return user_cache_dir() / "plugins"


def default_build_cache() -> Path:
    """componentize-py outputs keyed by content hash, when `--cache` is not given."""
    return user_cache_dir() / "builds"


def default_artifact_cache() -> Path:
    """Precompiled artifacts of components tried outside a node (`harvester plugin test`)."""
    return user_cache_dir() / "artifacts"
