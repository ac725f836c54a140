"""Make plugins ready to run: build each folder, then precompile its artifact.

What the test session and the benchmark both need before they start; a node does the
same lazily (runtime/artifacts.py), one plugin at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harvester.build.builder import BuildResult, build_plugin
from harvester.runtime.artifacts import ArtifactCache


def prepare_plugins(
    folders: Sequence[Path],
    *,
    out_dir: Path,
    build_cache: Path,
    artifacts: ArtifactCache,
    report: Callable[[str], None],
    workers: int = 2,
) -> list[BuildResult]:
    """Build and precompile `folders`, `workers` at a time, reporting one line per plugin.

    Raises BuildError (ManifestError, ToolMissing and ComponentizeError among them) for a
    plugin that does not build, and PluginLoadError for one that does not precompile.
    """

    def one(folder: Path) -> BuildResult:
        built = build_plugin(folder, out_dir=out_dir, cache_dir=build_cache)
        started = time.monotonic()
        said: list[str] = []  # the cache says when it really compiles (or rebuilds)
        artifacts.ensure(built.output, plugin=built.manifest.name, report=said.append)
        compiled = bool(said)
        build = "cached build" if built.cached else f"built in {built.seconds:.1f} s"
        artifact = (
            f"precompiled in {time.monotonic() - started:.1f} s" if compiled else "artifact cached"
        )
        report(f"  {built.manifest.name}: {build}, {artifact}")
        return built

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, folders))
