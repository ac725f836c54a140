"""npm packages of a web plugin: the lock file in the content hash, `npm ci` cached by it,
node_modules staged beside the plugin's copy, and never taken from the source folder."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import harvester.build.builder as builder_module
import harvester.build.componentize as componentize_module
import harvester.build.npm as npm_module
from harvester.build import (
    BuildError,
    NpmError,
    build_plugin,
    content_hash,
    load_manifest,
    sdk_dir,
    wit_dir,
)
from harvester.build.npm import install_node_modules, lock_key, npm_command

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "plugins" / "dashboard"


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    """A copy of the dashboard plugin's sources (no node_modules) that a test may change."""
    skip = shutil.ignore_patterns("__pycache__", "node_modules")
    return shutil.copytree(DASHBOARD, tmp_path / "dashboard", ignore=skip)


def digest(plugin: Path) -> str:
    return content_hash(plugin, load_manifest(plugin), wit_dir=wit_dir(), sdk_dir=sdk_dir())


def test_the_lock_file_and_the_pages_are_part_of_the_hash(plugin: Path) -> None:
    before = digest(plugin)
    lock = plugin / "package-lock.json"
    data = json.loads(lock.read_text())
    data["packages"]["node_modules/uplot"]["version"] = "1.6.31"
    lock.write_text(json.dumps(data))
    changed = digest(plugin)
    assert changed != before
    for name in ("static/extra.js", "static/extra.css", "static/extra.html", "static/x.svg"):
        (plugin / name).write_text("/* new */\n")
        assert digest(plugin) != changed, name
        changed = digest(plugin)


def test_node_modules_in_the_source_folder_is_never_hashed(plugin: Path) -> None:
    before = digest(plugin)
    stray = plugin / "node_modules" / "uplot" / "dist"
    stray.mkdir(parents=True)
    (stray / "uPlot.esm.js").write_text("export default 1;\n")
    (plugin / "node_modules" / "left.py").write_text("X = 1\n")
    assert digest(plugin) == before


def test_the_install_is_keyed_by_the_lock_file(plugin: Path) -> None:
    key = lock_key(plugin)
    (plugin / "package.json").write_text('{"name": "renamed"}\n')
    assert lock_key(plugin) == key  # package.json alone does not choose the packages
    (plugin / "package-lock.json").write_text("{}\n")
    assert lock_key(plugin) != key


def test_npm_runs_ci_without_scripts() -> None:
    cmd = npm_command()
    assert cmd[:2] == ["npm", "ci"]
    assert {"--ignore-scripts", "--no-audit", "--no-fund"} <= set(cmd)


def test_missing_npm_is_a_build_error_naming_the_plugin(
    plugin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(npm_module.shutil, "which", lambda _: None)
    with pytest.raises(NpmError, match=r"^dashboard: .*npm is not installed"):
        install_node_modules("dashboard", plugin, tmp_path / "cache")


def test_a_missing_lock_file_is_a_build_error(plugin: Path, tmp_path: Path) -> None:
    (plugin / "package-lock.json").unlink()
    with pytest.raises(NpmError, match=r"dashboard: .*package.json without package-lock.json"):
        install_node_modules("dashboard", plugin, tmp_path / "cache")


def test_an_npm_failure_names_the_plugin_and_leaves_nothing(
    plugin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(cmd: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(cmd, 1, "", "npm ERR! code E404\nnpm ERR! 404 nope\n")

    monkeypatch.setattr(npm_module.shutil, "which", lambda _: "/usr/bin/npm")
    monkeypatch.setattr(npm_module.subprocess, "run", failing)
    cache = tmp_path / "cache"
    with pytest.raises(BuildError, match=r"dashboard: .*npm ci failed: .*404 nope"):
        install_node_modules("dashboard", plugin, cache)
    assert list((cache / "node_modules").iterdir()) == []


def test_node_modules_is_staged_beside_the_plugins_copy(
    plugin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = tmp_path / "installed" / "node_modules"
    (installed / "uplot" / "dist").mkdir(parents=True)
    (installed / "uplot" / "dist" / "uPlot.esm.js").write_text("export default 1;\n")
    # A developer's own node_modules in the source folder must not be what is staged.
    (plugin / "node_modules" / "stale").mkdir(parents=True)
    asked: list[str] = []

    def install(name: str, folder: Path, cache: Path) -> Path:
        asked.append(name)
        return installed

    monkeypatch.setattr(builder_module, "install_node_modules", install)
    staged: list[Path] = []

    def componentize_py(cmd: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        first = Path(cmd[cmd.index("-p") + 1])
        staged.extend(sorted(p.relative_to(first) for p in (first / "node_modules").rglob("*")))
        return subprocess.CompletedProcess(cmd, 1, "", "stopped here by the test")

    monkeypatch.setattr(componentize_module.subprocess, "run", componentize_py)
    with pytest.raises(BuildError, match="stopped here by the test"):
        build_plugin(plugin, out_dir=tmp_path / "out", cache_dir=tmp_path / "cache")
    assert asked == ["dashboard"]
    assert Path("node_modules/uplot/dist/uPlot.esm.js") in staged
    assert not any("stale" in p.parts for p in staged)


@pytest.mark.slow
def test_real_npm_ci_installs_the_locked_uplot_once(plugin: Path, tmp_path: Path) -> None:
    """Reaches the npm registry (or npm's own cache)."""
    if shutil.which("npm") is None:
        pytest.fail("npm is not installed: ./harvester.sh test installs it (Debian's npm)")
    cache = tmp_path / "cache"
    folder = install_node_modules("dashboard", plugin, cache)
    package = json.loads((folder / "uplot" / "package.json").read_text())
    locked = json.loads((plugin / "package-lock.json").read_text())
    assert package["version"] == locked["packages"]["node_modules/uplot"]["version"]
    assert (folder / "uplot" / "dist" / "uPlot.esm.js").is_file()
    assert install_node_modules("dashboard", plugin, cache) == folder  # cached: no npm run
