"""Dev mode's source watcher (`harvester run --dev`): a plugin's sources change, it is
rebuilt into the node's plugin folder, and the node's own watcher swaps it in.

It watches each plugin's folder, the guest SDK and the WIT contract (watchfiles). A
change is judged by the build's content hash, not by the event: a save that leaves the
content as it was (a touch, a test file, bytecode) builds nothing, and a content that
failed to build is not tried again until it changes, so a build error is told once. A
change to the SDK or the contract rebuilds every plugin. Builds run off the event loop,
two at a time, cached by content hash; the output is replaced by a rename, and a failed
build leaves the running version's file alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from watchfiles import awatch

from harvester.build import contract
from harvester.build.builder import build_plugin, content_hash
from harvester.build.errors import BuildError
from harvester.build.manifest import load_manifest

# Quiet time that ends a burst of saves (an editor writes, renames, touches).
DEBOUNCE_MS = 300
# How often the watch thread wakes without changes: the first wake says it is watching.
WAKE_MS = 500
PARALLEL_BUILDS = 2  # a componentize-py run takes ~1 core and ~500 MB

DevEventKind = Literal["watching", "rebuilding", "built", "failed", "unchanged"]


@dataclass(frozen=True)
class DevEvent:
    """What the watcher did. `detail`: componentize-py's (or the manifest's) message for
    `failed`; `cached` and `seconds` for `built`; what changed for `rebuilding`.
    `unchanged`: files changed, but not the content that was last built or tried."""

    kind: DevEventKind
    plugin: str = ""
    detail: str = ""
    seconds: float = 0.0
    cached: bool = False
    output: Path | None = None


def build_message(exc: BuildError) -> str:
    """What a person needs of a build error: componentize-py's message (the plugin's
    Python traceback) without the Rust stack trace it appends when RUST_BACKTRACE is set."""
    text = str(exc)
    return text.split("\nStack backtrace:", 1)[0].rstrip()


class SourceWatcher:
    """Rebuilds the plugins of `sources` (component name -> plugin folder) into `out_dir`
    when their sources, the SDK or the contract change; `report` hears each DevEvent."""

    def __init__(
        self,
        sources: Mapping[str, Path],
        *,
        out_dir: Path,
        build_cache: Path,
        report: Callable[[DevEvent], None],
        sdk_dir: Path | None = None,
        wit_dir: Path | None = None,
    ) -> None:
        self.sources = {name: folder.resolve() for name, folder in sources.items()}
        self.out_dir = out_dir
        self.build_cache = build_cache
        self.sdk_dir = (sdk_dir or contract.sdk_dir()).resolve()
        self.wit_dir = (wit_dir or contract.wit_dir()).resolve()
        self._report = report
        self._tried: dict[str, str] = {}  # plugin -> content hash last built or failed
        self._builds = asyncio.Semaphore(PARALLEL_BUILDS)

    def affected(self, paths: set[Path]) -> set[str]:
        """The plugins whose sources hold one of `paths`: all of them for the SDK or WIT."""
        shared = (self.sdk_dir, self.wit_dir)
        if any(p.is_relative_to(d) for p in paths for d in shared):
            return set(self.sources)
        return {n for n, f in self.sources.items() if any(p.is_relative_to(f) for p in paths)}

    async def rebuild(self, names: set[str], *, why: str = "") -> None:
        """Build each plugin in `names` whose content is new since it was last tried."""
        await asyncio.gather(*(self._rebuild_one(name, why) for name in sorted(names)))

    def _digest(self, name: str) -> str:
        folder = self.sources[name]
        manifest = load_manifest(folder)
        return content_hash(folder, manifest, wit_dir=self.wit_dir, sdk_dir=self.sdk_dir)

    async def _rebuild_one(self, name: str, why: str) -> None:
        async with self._builds:
            try:
                digest = await asyncio.to_thread(self._digest, name)
            except BuildError as exc:  # a broken plugin.toml: told once per content
                digest = f"unreadable: {exc}"
                if self._tried.get(name) != digest:
                    self._tried[name] = digest
                    self._report(DevEvent("failed", name, str(exc)))
                return
            if self._tried.get(name) == digest:
                self._report(DevEvent("unchanged", name, why))
                return
            self._tried[name] = digest
            self._report(DevEvent("rebuilding", name, why))
            started = time.monotonic()
            try:
                built = await asyncio.to_thread(
                    build_plugin,
                    self.sources[name],
                    out_dir=self.out_dir,
                    cache_dir=self.build_cache,
                    wit_dir=self.wit_dir,
                    sdk_dir=self.sdk_dir,
                )
            except BuildError as exc:
                self._report(DevEvent("failed", name, build_message(exc)))
                return
            self._report(
                DevEvent(
                    "built",
                    name,
                    seconds=time.monotonic() - started,
                    cached=built.cached,
                    output=built.output,
                )
            )

    async def run(self, stop: asyncio.Event) -> None:
        """Build what changed since the last build, then watch until `stop` is set."""
        folders = sorted({*self.sources.values(), self.sdk_dir, self.wit_dir})
        watching = False
        async for changes in awatch(
            *folders,
            stop_event=stop,
            debounce=DEBOUNCE_MS,
            rust_timeout=WAKE_MS,
            yield_on_timeout=True,
        ):
            if not watching:  # the first wake: the watch is in place, changes are seen
                watching = True
                self._report(DevEvent("watching", detail=", ".join(map(str, folders))))
            paths = {Path(path) for _, path in changes}
            if paths:
                shown = ", ".join(sorted(p.name for p in paths)[:3])
                await self.rebuild(self.affected(paths), why=f"{shown} changed")
