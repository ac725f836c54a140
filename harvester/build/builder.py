"""Build plugins into WebAssembly components with componentize-py, cached by content hash.

The hash covers everything that ends up in the component: the plugin's files, the SDK,
the WIT contract and the plugin's own WIT folders, the world and module names, the
third-party requirements' pins, the npm lock file (package-lock.json, a .json file of the
plugin) and the componentize-py version. An unchanged plugin is
copied from the cache in milliseconds instead of rebuilt (~12 s).
"""

from __future__ import annotations

import contextlib
import filecmp
import hashlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harvester.build import contract
from harvester.build.componentize import componentize, componentize_py_version
from harvester.build.errors import BuildError, ManifestError
from harvester.build.manifest import MANIFEST_NAME, PluginManifest, load_manifest
from harvester.build.npm import NODE_MODULES, has_npm_packages, install_node_modules
from harvester.build.requirements import install_requirements
from harvester.runtime.artifacts import checksum_line, checksum_path, file_sha256
from harvester.runtime.files import write_atomically

# Not part of a component: bytecode, build output, and HAL recordings that tests replay
# (plugins/bme680/recordings), which change without the plugin changing; and a developer's
# node_modules, which the lock file (hashed) stands for and the build installs itself; and
# the plugin's own tests (host-side pytest files, `harvester plugin new` writes one).
_SKIP_DIRS = {"__pycache__", "build", ".pytest_cache", "recordings", "tests", NODE_MODULES}
# Data files a plugin reads while it is imported (at build time, see plugins/sdk/README.md)
# end up in the component as much as its code does: a web plugin's pages and scripts too.
_PLUGIN_FILES = (".py", ".toml", ".bin", ".json", ".txt", ".js", ".css", ".html", ".svg")


@dataclass(frozen=True)
class BuildResult:
    manifest: PluginManifest
    output: Path
    content_hash: str
    cached: bool
    seconds: float


def _source_files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix in suffixes
        and not _SKIP_DIRS & set(p.relative_to(folder).parts)
    )


def extra_wit_dirs(plugin_dir: Path, manifest: PluginManifest) -> list[Path]:
    """The plugin's own WIT folders (manifest `wit`), in order.

    Raises ManifestError naming the manifest and the folder when one is not a folder.
    """
    folders = [plugin_dir / name for name in manifest.wit]
    for name, folder in zip(manifest.wit, folders, strict=True):
        if not folder.is_dir():
            raise ManifestError(plugin_dir / MANIFEST_NAME, f"wit: {name!r} is not a folder")
    return folders


def content_hash(
    plugin_dir: Path,
    manifest: PluginManifest,
    *,
    wit_dir: Path | None = None,
    sdk_dir: Path | None = None,
) -> str:
    """A digest of everything that goes into the plugin's component.

    `wit_dir` and `sdk_dir` default to the installed contract. Raises ToolMissing without
    componentize-py, ManifestError for a missing `wit` folder, BuildError without the
    contract.
    """
    inputs = [
        ("plugin", plugin_dir, _PLUGIN_FILES),
        ("sdk", sdk_dir or contract.sdk_dir(), (".py",)),
        ("wit", wit_dir or contract.wit_dir(), (".wit",)),
    ]
    inputs += [
        (f"plugin-wit/{name}", folder, (".wit",))
        for name, folder in zip(manifest.wit, extra_wit_dirs(plugin_dir, manifest), strict=True)
    ]
    digest = hashlib.sha256()
    digest.update(f"componentize-py {componentize_py_version()}\n".encode())
    digest.update(f"world {manifest.world} module {manifest.module}\n".encode())
    if manifest.wit:  # only then, so plugins without extra WIT keep their cached builds
        digest.update(f"extra wit {list(manifest.wit)}\n".encode())
    if manifest.requirements:  # likewise; the pins fix the packages' content
        digest.update(f"requirements {sorted(manifest.requirements)}\n".encode())
    for label, folder, suffixes in inputs:
        for path in _source_files(folder, suffixes):
            digest.update(f"{label}/{path.relative_to(folder).as_posix()}\n".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _build_into_cache(
    plugin_dir: Path, manifest: PluginManifest, cached_file: Path, *, wit: Path, sdk: Path
) -> None:
    """Install the plugin's requirements and npm packages (cached), run componentize-py on
    staged copies of the plugin (with its node_modules) and the SDK (the guest writes
    bytecode into its Python path, which may be a read-only install), then move the
    component into the cache under its final name, so a failed build leaves nothing.

    Raises BuildError when the sources cannot be copied, RequirementsError when pip fails,
    NpmError when npm does, and what `componentize` raises.
    """
    deps = (
        [install_requirements(manifest.name, manifest.requirements, cached_file.parent)]
        if manifest.requirements
        else []
    )
    node_modules = (
        install_node_modules(manifest.name, plugin_dir, cached_file.parent)
        if has_npm_packages(plugin_dir)
        else None
    )
    cached_file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cached_file.parent, suffix=".wasm.tmp")
    os.close(fd)
    skip = shutil.ignore_patterns(*_SKIP_DIRS)
    try:
        with tempfile.TemporaryDirectory(prefix="harvester-build-") as staging:
            try:
                plugin_copy = shutil.copytree(plugin_dir, Path(staging) / "plugin", ignore=skip)
                if node_modules is not None:  # where the plugin reads it: beside its code
                    shutil.copytree(node_modules, plugin_copy / NODE_MODULES)
                sdk_copy = shutil.copytree(sdk, Path(staging) / "sdk", ignore=skip)
                # Staged too: the cached install is shared by concurrent builds.
                deps_copies = [
                    shutil.copytree(d, Path(staging) / "deps", ignore=skip) for d in deps
                ]
            except OSError as exc:
                raise BuildError(f"{manifest.name}: cannot stage its sources: {exc}") from exc
            componentize(
                plugin=manifest.name,
                # The contract first: a plugin's own world may include the contract's.
                wit_dirs=[wit, *extra_wit_dirs(plugin_dir, manifest)],
                world=manifest.world,
                # The plugin's own modules first, then the SDK (with its CircuitPython
                # shims), then the third-party packages.
                python_path=[plugin_copy, sdk_copy, *deps_copies],
                module=manifest.module,
                out=Path(tmp),
            )
        os.replace(tmp, cached_file)
    finally:
        Path(tmp).unlink(missing_ok=True)


def build_plugin(
    plugin_dir: Path,
    *,
    out_dir: Path,
    cache_dir: Path,
    wit_dir: Path | None = None,
    sdk_dir: Path | None = None,
) -> BuildResult:
    """Build (or fetch from `cache_dir`) `plugin_dir` into `out_dir/<name>.wasm`.

    `wit_dir` and `sdk_dir` default to the contract installed with harvester. Raises
    ManifestError for a bad plugin.toml, ToolMissing without componentize-py,
    ComponentizeError if componentize-py fails, and BuildError (the root of all three)
    without the contract.
    """
    started = time.monotonic()
    manifest = load_manifest(plugin_dir)
    wit = wit_dir or contract.wit_dir()
    sdk = sdk_dir or contract.sdk_dir()
    digest = content_hash(plugin_dir, manifest, wit_dir=wit, sdk_dir=sdk)
    cached_file = cache_dir / f"{manifest.name}-{digest[:32]}.wasm"
    cached = cached_file.is_file()
    if not cached:
        _build_into_cache(plugin_dir, manifest, cached_file, wit=wit, sdk=sdk)
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{manifest.name}.wasm"
    # Leave an identical output alone: a node watching the folder sees no change. Otherwise
    # copy, then rename, so a watcher never sees a half-written component. The sha256
    # sidecar goes first: a node loads a component only if it matches its sidecar, and a
    # sidecar left by an earlier deploy must not keep this build out (docs/lifecycle.md).
    _write_sidecar(output, file_sha256(cached_file))
    if not (output.is_file() and filecmp.cmp(cached_file, output, shallow=False)):
        tmp_out = output.with_suffix(".wasm.tmp")
        shutil.copyfile(cached_file, tmp_out)
        os.replace(tmp_out, output)
    return BuildResult(manifest, output, digest, cached, time.monotonic() - started)


def _write_sidecar(component: Path, sha256: str) -> None:
    """`<component>.sha256` in sha256sum format, by rename; left alone if it says so already."""
    side = checksum_path(component)
    line = checksum_line(sha256, component)
    with contextlib.suppress(OSError):
        if side.read_text() == line:
            return
    write_atomically(side, line.encode())
