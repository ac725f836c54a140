"""Plugin builds: cached by a hash of everything that goes into the component."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harvester.build import ManifestError, build_plugin, load_manifest
from harvester.build.builder import SDK_DIR, WIT_DIR, content_hash

ROOT = Path(__file__).resolve().parents[2]
BME680 = ROOT / "plugins" / "bme680"


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Copies of a plugin, the WIT and the SDK that a test may change."""
    plugin = shutil.copytree(BME680, tmp_path / "bme680", ignore=shutil.ignore_patterns("__pycache__"))
    wit = shutil.copytree(WIT_DIR, tmp_path / "wit")
    sdk = shutil.copytree(SDK_DIR, tmp_path / "sdk", ignore=shutil.ignore_patterns("__pycache__"))
    return plugin, wit, sdk


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
        lambda plugin, wit, sdk: (plugin / "app.py").write_text((plugin / "app.py").read_text() + "\n# x\n"),
        lambda plugin, wit, sdk: (plugin / "extra.py").write_text("X = 1\n"),
        lambda plugin, wit, sdk: (wit / "i2c.wit").write_text((wit / "i2c.wit").read_text() + "\n"),
        lambda plugin, wit, sdk: (sdk / "harvester_sdk" / "log.py").write_text("# changed\n"),
        lambda plugin, wit, sdk: (plugin / "plugin.toml").write_text(
            (plugin / "plugin.toml").read_text().replace('world = "bme680-plugin"', 'world = "dht22-plugin"')
        ),
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
    from harvester.build import BuildError

    plugin, wit, sdk = tree
    (plugin / "app.py").write_text("from wit_world import exports\n")  # no Sensor class
    with pytest.raises(BuildError, match="^bme680: componentize-py failed"):
        build_plugin(plugin, out_dir=tmp_path / "out", cache_dir=tmp_path / "cache", wit_dir=wit, sdk_dir=sdk)
    assert not list((tmp_path / "cache").glob("*.wasm")), "a failed build must leave no cache entry"


def test_a_bad_manifest_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "plugin.toml").write_text('name = "Bad Name"\nworld = "bme680-plugin"\n')
    with pytest.raises(ManifestError) as err:
        load_manifest(tmp_path)
    assert str(tmp_path / "plugin.toml") in str(err.value)
    assert "name" in str(err.value) and "'Bad Name'" in str(err.value)


@pytest.mark.wasm
def test_an_identical_output_is_left_untouched(plugin_dir: Path, tmp_path: Path) -> None:
    cache = ROOT / ".harvester" / "builds"
    first = build_plugin(BME680, out_dir=tmp_path, cache_dir=cache).output
    stamp = first.stat().st_mtime_ns
    again = build_plugin(BME680, out_dir=tmp_path, cache_dir=cache).output
    assert again.stat().st_mtime_ns == stamp
