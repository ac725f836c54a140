"""componentize-py is optional (the `build` extra): without it, one clear BuildError."""

from __future__ import annotations

import importlib.abc
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harvester.build import BuildError, ToolMissing, build_plugin, componentize_py_version

ROOT = Path(__file__).resolve().parents[2]


class Uninstalled(importlib.abc.MetaPathFinder):
    """Makes `componentize_py` fail to import, as in an install without the extra."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.partition(".")[0] == "componentize_py":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


@pytest.fixture
def without_componentize_py(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "componentize_py", raising=False)
    monkeypatch.setattr(sys, "meta_path", [Uninstalled(), *sys.meta_path])


def test_the_version_is_known_when_installed() -> None:
    assert componentize_py_version() == "0.25.1"


@pytest.mark.usefixtures("without_componentize_py")
def test_without_it_the_error_says_how_to_install_it() -> None:
    with pytest.raises(BuildError) as err:
        componentize_py_version()
    assert isinstance(err.value, ToolMissing)
    assert err.value.tool == "componentize-py"
    assert "pip install 'harvester[build]'" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.usefixtures("without_componentize_py")
def test_without_it_nothing_is_built_or_cached(tmp_path: Path) -> None:
    plugin = shutil.copytree(ROOT / "plugins" / "dht22", tmp_path / "dht22")
    with pytest.raises(ToolMissing):
        build_plugin(plugin, out_dir=tmp_path / "out", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists() and not (tmp_path / "out").exists()


def test_the_command_line_says_so_in_one_line(tmp_path: Path) -> None:
    # A real `harvester plugin build` in a process where componentize_py cannot be imported.
    script = (
        "import sys; sys.modules['componentize_py'] = None; "
        "from harvester.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "plugin", "build", str(ROOT / "plugins" / "dht22"),
         "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == [
        "cannot build: componentize-py is not installed, and building plugins needs it: "
        "pip install 'harvester[build]' (or componentize-py==0.25.1)"
    ]
    assert not (tmp_path / "out").exists()
