"""A component ready to instantiate: its artifact loaded and its imports and exports checked.

Loading is the part of a start that can be done before, and beside, a running instance
(hot reload loads a new version while the old one runs); it is keyed by the
artifact, so a changed component file is loaded afresh and an unchanged one is not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import wasmtime
from wasmtime.component import Component

from harvester.config import Grants
from harvester.constants import current_interface
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.errors import PluginLoadError
from harvester.runtime.host_api import ungranted_imports
from harvester.runtime.plugin import component_imports
from harvester.runtime.wasi import unknown_wasi_imports


@dataclass(frozen=True)
class LoadedComponent:
    path: Path
    artifact: Path  # names the content and the engine
    digest: str  # sha256 of the component: the version's identity
    component: Component
    imports: tuple[str, ...]
    exports: frozenset[str]


def load_component(
    engine: wasmtime.Engine,
    artifacts: ArtifactCache,
    path: Path,
    *,
    plugin: str,
    grants: Grants,
    drivable: Iterable[str],
    report: Callable[[str], None] | None = None,
) -> LoadedComponent:
    """Load `path` (precompiling in a child process if needed) and check it may run here.

    `drivable` are the export interfaces the host knows how to drive. Raises
    PluginLoadError if the file is missing or does not compile, if it imports what its
    grants or the sandbox do not provide, or exports nothing the host can drive.
    Blocking: call it off the event loop.
    """
    component = artifacts.load(engine, path, plugin=plugin, report=report)
    artifact = artifacts.artifact_path(path)  # the hash is remembered: no second read
    digest = artifacts.content_hash(path)
    imports = component_imports(engine, component)
    refused = ungranted_imports(imports, grants)
    if refused:
        raise PluginLoadError(
            plugin,
            f"imports {', '.join(refused)}, which its grants in the node config do not cover",
        )
    unknown = unknown_wasi_imports(imports)
    if unknown:
        raise PluginLoadError(
            plugin, f"imports {', '.join(unknown)}, which the sandbox does not provide"
        )
    exports = frozenset(component.type.exports(engine))
    if not {current_interface(name) for name in exports} & set(drivable):
        raise PluginLoadError(
            plugin, f"exports none of {', '.join(sorted(drivable))}: nothing the host can drive"
        )
    return LoadedComponent(path, artifact, digest, component, imports, exports)
