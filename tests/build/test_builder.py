"""Plugin builds: cached by a hash of everything that goes into the component."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

import harvester.build.builder as builder_module
import harvester.build.componentize as componentize_module
from harvester.build import (
    BuildError,
    ManifestError,
    build_plugin,
    content_hash,
    load_manifest,
    sdk_dir,
    wit_dir,
)

ROOT = Path(__file__).resolve().parents[2]
BME680 = ROOT / "plugins" / "bme680"


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Copies of a plugin, the WIT and the SDK that a test may change."""
    no_bytecode = shutil.ignore_patterns("__pycache__")
    plugin = shutil.copytree(BME680, tmp_path / "bme680", ignore=no_bytecode)
    wit = shutil.copytree(wit_dir(), tmp_path / "wit")
    sdk = shutil.copytree(sdk_dir(), tmp_path / "sdk", ignore=no_bytecode)
    return plugin, wit, sdk


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def replace(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new))


def build_in(tmp_path: Path, tree: tuple[Path, Path, Path]):
    plugin, wit, sdk = tree
    out, cache = tmp_path / "out", tmp_path / "cache"
    return build_plugin(plugin, out_dir=out, cache_dir=cache, wit_dir=wit, sdk_dir=sdk)


def digest(tree: tuple[Path, Path, Path]) -> str:
    plugin, wit, sdk = tree
    return content_hash(plugin, load_manifest(plugin), wit_dir=wit, sdk_dir=sdk)


def test_hash_is_stable_and_ignores_bytecode_caches(tree) -> None:
    before = digest(tree)
    (tree[0] / "__pycache__").mkdir()
    (tree[0] / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"junk")
    assert digest(tree) == before


@pytest.mark.parametrize(
    "change",
    [
        lambda plugin, wit, sdk: append(plugin / "app.py", "\n# x\n"),
        lambda plugin, wit, sdk: (plugin / "extra.py").write_text("X = 1\n"),
        lambda plugin, wit, sdk: append(wit / "i2c.wit", "\n"),
        lambda plugin, wit, sdk: (sdk / "harvester_sdk" / "log.py").write_text("# changed\n"),
        lambda plugin, wit, sdk: replace(plugin / "plugin.toml", "bme680-plugin", "dht22-plugin"),
    ],
    ids=["plugin-source", "new-file", "wit", "sdk", "world"],
)
def test_any_input_change_changes_the_hash(tree, change) -> None:
    before = digest(tree)
    change(*tree)
    assert digest(tree) != before


@pytest.mark.wasm
def test_an_unchanged_plugin_comes_from_the_cache(plugin_dir: Path, tmp_path: Path) -> None:
    # plugin_dir has built bme680 into the shared cache already.
    result = build_plugin(BME680, out_dir=tmp_path, cache_dir=ROOT / ".harvester" / "builds")
    assert result.cached
    assert result.seconds < 2  # a copy, not a 10 s componentize-py run
    assert result.output.read_bytes() == (plugin_dir / "bme680.wasm").read_bytes()


@pytest.mark.wasm
def test_a_componentize_failure_names_the_plugin(tree, tmp_path: Path) -> None:
    (tree[0] / "app.py").write_text("from wit_world import exports\n")  # no Sensor class
    with pytest.raises(BuildError, match=r"^bme680: componentize-py failed"):
        build_in(tmp_path, tree)
    assert not list((tmp_path / "cache").glob("*.wasm")), "a failed build must leave no cache entry"


@pytest.mark.wasm
def test_an_identical_output_is_left_untouched(plugin_dir: Path, tmp_path: Path) -> None:
    cache = ROOT / ".harvester" / "builds"
    first = build_plugin(BME680, out_dir=tmp_path, cache_dir=cache).output
    stamp = first.stat().st_mtime_ns
    again = build_plugin(BME680, out_dir=tmp_path, cache_dir=cache).output
    assert again.stat().st_mtime_ns == stamp


@pytest.mark.wasm
def test_the_output_has_a_sidecar_that_replaces_a_stale_one(
    plugin_dir: Path, tmp_path: Path
) -> None:
    """A deploy leaves a sidecar naming its own component; the next build must not be kept
    out of a node by it (a node loads a component only if it matches its sidecar)."""
    side = tmp_path / "bme680.wasm.sha256"
    side.write_text(f"{'0' * 64}  bme680.wasm\n")  # what an earlier deploy left
    out = build_plugin(BME680, out_dir=tmp_path, cache_dir=ROOT / ".harvester" / "builds").output
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert side.read_text() == f"{digest}  bme680.wasm\n"


def with_extra_wit(plugin: Path) -> Path:
    """Give the plugin copy its own WIT folder, named in its manifest."""
    (plugin / "wit").mkdir()
    (plugin / "wit" / "extra.wit").write_text("package test:extra;\n\nworld probe {}\n")
    manifest = plugin / "plugin.toml"
    manifest.write_text(
        manifest.read_text().replace('world = "bme680-plugin"', 'world = "test:extra/probe"')
        + 'wit = ["wit"]\n'
    )
    return plugin / "wit"


def test_extra_wit_folders_are_part_of_the_hash(tree) -> None:
    plain = digest(tree)
    extra = with_extra_wit(tree[0])
    with_wit = digest(tree)
    assert with_wit != plain
    (extra / "extra.wit").write_text("package test:extra;\n\nworld probe { }\n")
    assert digest(tree) != with_wit  # the folder's content counts, not just its name


def test_a_missing_extra_wit_folder_is_a_manifest_error(tree) -> None:
    plugin = tree[0]
    with_extra_wit(plugin)
    shutil.rmtree(plugin / "wit")
    with pytest.raises(ManifestError, match=r"plugin\.toml: wit: 'wit' is not a folder"):
        digest(tree)


def test_extra_wit_folders_follow_the_contract_on_the_command_line(
    tree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin, wit, _ = tree
    extra = with_extra_wit(plugin)
    seen: list[list[str]] = []

    def componentize_py(cmd: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 1, "", "stopped here by the test")

    monkeypatch.setattr(componentize_module.subprocess, "run", componentize_py)
    with pytest.raises(BuildError, match="stopped here by the test"):
        build_in(tmp_path, tree)
    [cmd] = seen
    wit_args = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "-d"]
    assert wit_args == [str(wit), str(extra)]  # the contract first: the plugin's world includes it
    assert cmd[cmd.index("-w") + 1] == "test:extra/probe"


def test_requirements_are_part_of_the_hash(tree) -> None:
    plain = digest(tree)
    append(tree[0] / "plugin.toml", 'requirements = ["adafruit-circuitpython-bme680==3.7.16"]\n')
    pinned = digest(tree)
    assert pinned != plain
    replace(tree[0] / "plugin.toml", "3.7.16", "3.7.15")
    assert digest(tree) != pinned  # a changed pin rebuilds


def test_data_files_of_the_plugin_are_part_of_the_hash(tree) -> None:
    before = digest(tree)
    (tree[0] / "font.bin").write_bytes(b"\x05\x08")
    assert digest(tree) != before


def test_requirements_go_on_the_python_path_after_the_sdk(
    tree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin, _, _ = tree
    append(plugin / "plugin.toml", 'requirements = ["adafruit-circuitpython-bme680==3.7.16"]\n')
    installed = tmp_path / "installed"
    (installed / "adafruit_bme680.py").parent.mkdir(parents=True)
    (installed / "adafruit_bme680.py").write_text("X = 1\n")
    asked: list[tuple[str, tuple[str, ...]]] = []

    def install(plugin_name: str, pins: tuple[str, ...], cache: Path) -> Path:
        asked.append((plugin_name, pins))
        return installed

    monkeypatch.setattr(builder_module, "install_requirements", install)
    seen: list[list[str]] = []

    def componentize_py(cmd: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        seen.append(cmd)
        paths = [Path(cmd[i + 1]) for i, arg in enumerate(cmd) if arg == "-p"]
        assert (paths[2] / "adafruit_bme680.py").is_file()  # a staged copy of the install
        return subprocess.CompletedProcess(cmd, 1, "", "stopped here by the test")

    monkeypatch.setattr(componentize_module.subprocess, "run", componentize_py)
    with pytest.raises(BuildError, match="stopped here by the test"):
        build_in(tmp_path, tree)
    assert asked == [("bme680", ("adafruit-circuitpython-bme680==3.7.16",))]
    [cmd] = seen
    paths = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "-p"]
    assert [Path(p).name for p in paths] == ["plugin", "sdk", "deps"]


def test_recordings_beside_a_plugin_are_not_part_of_it(tree) -> None:
    before = digest(tree)
    (tree[0] / "recordings").mkdir(exist_ok=True)  # bme680 has its own
    (tree[0] / "recordings" / "new-run.toml").write_text("[recording]\n")
    (tree[0] / "recordings" / "new-run.readings.json").write_text("[]\n")
    assert digest(tree) == before
