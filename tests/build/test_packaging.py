"""The wheel carries the plugin contract, and the build tool works from an installed copy.

Builds a real wheel (pip, isolated build, ~10 s) from a copy of the sources, so nothing is
written into the checkout, then imports harvester from the unpacked wheel in a child
process: the contract must come from inside it, never from this checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from harvester.build import content_hash, load_manifest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "setup.py", "harvester", "wit", "plugins/sdk")
CONTRACT = "harvester/_contract"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / name, src / name)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q"]
    done = subprocess.run(
        [*pip_wheel, "-w", str(work / "dist"), str(src)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [built] = (work / "dist").glob("harvester-*.whl")
    return built


@pytest.fixture(scope="module")
def unpacked(wheel: Path) -> Path:
    site = wheel.parent / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    return site


def names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def test_the_wheel_carries_the_wit_and_the_sdk(wheel: Path) -> None:
    inside = names(wheel)
    wit = {
        f"{CONTRACT}/wit/{p.relative_to(ROOT / 'wit').as_posix()}"
        for p in (ROOT / "wit").rglob("*.wit")
    }
    sdk_root = ROOT / "plugins" / "sdk"
    sdk = {
        f"{CONTRACT}/sdk/{p.relative_to(sdk_root).as_posix()}"
        for p in sdk_root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert len(wit) >= 7 and f"{CONTRACT}/sdk/harvester_sdk/errors.py" in sdk
    assert wit <= inside, f"missing: {sorted(wit - inside)}"
    assert sdk <= inside, f"missing: {sorted(sdk - inside)}"
    assert not any("__pycache__" in name for name in inside)


def test_the_wheel_holds_every_host_package(wheel: Path) -> None:
    packages = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "harvester").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert "harvester/build/__init__.py" in packages
    assert packages <= names(wheel), f"missing: {sorted(packages - names(wheel))}"


def test_componentize_py_is_only_a_build_extra(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        [metadata] = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        requires = Parser().parsestr(zf.read(metadata).decode()).get_all("Requires-Dist") or []
    tool = [r for r in requires if r.startswith("componentize-py")]
    assert tool == ['componentize-py==0.25.1; extra == "build"']
    assert any(r.startswith("wasmtime") and "extra" not in r for r in requires)


def run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Python with only the unpacked wheel (and this venv's dependencies) to import from."""
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


def test_the_installed_contract_is_found_inside_the_package(unpacked: Path, tmp_path: Path) -> None:
    bme680 = ROOT / "plugins" / "bme680"
    script = (
        "import harvester, sys\n"
        "from pathlib import Path\n"
        "from harvester.build import content_hash, load_manifest, sdk_dir, wit_dir\n"
        "plugin = Path(sys.argv[1])\n"
        "digest = content_hash(plugin, load_manifest(plugin))\n"
        "print(harvester.__file__, wit_dir(), sdk_dir(), digest)\n"
    )
    done = run_installed(unpacked, tmp_path, "-c", script, str(bme680))
    assert done.returncode == 0, done.stderr
    package, wit, sdk, digest = done.stdout.split()
    assert Path(package) == unpacked / "harvester" / "__init__.py"
    assert Path(wit) == unpacked / CONTRACT / "wit"
    assert Path(sdk) == unpacked / CONTRACT / "sdk"
    # The same contract as this checkout's: an installed tool shares the build cache.
    assert digest == content_hash(bme680, load_manifest(bme680))


@pytest.mark.wasm
def test_an_installed_harvester_builds_a_plugin_copied_anywhere(
    plugin_dir: Path, unpacked: Path, tmp_path: Path
) -> None:
    plugin = shutil.copytree(
        ROOT / "plugins" / "bme680", tmp_path / "mine" / "bme680",
        ignore=shutil.ignore_patterns("__pycache__"),
    )  # fmt: skip
    out = tmp_path / "out"
    done = run_installed(
        unpacked, tmp_path, "-m", "harvester", "plugin", "build", str(plugin.parent),
        "--out", str(out), "--cache", str(ROOT / ".harvester" / "builds"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "bme680 → " in done.stderr and "(cached)" in done.stderr  # plugin_dir built it
    assert (out / "bme680.wasm").read_bytes() == (plugin_dir / "bme680.wasm").read_bytes()


def test_an_installed_harvester_scaffolds_a_plugin(unpacked: Path, tmp_path: Path) -> None:
    """The templates of `plugin new` are package data: the wheel carries them."""
    done = run_installed(
        unpacked, tmp_path, "-m", "harvester", "plugin", "new", "probe", "--world", "dht22-plugin"
    )
    assert done.returncode == 0, done.stderr
    app = (tmp_path / "plugins" / "probe" / "app.py").read_text()
    assert "gpio_provider.read_dht22" in app
    assert load_manifest(tmp_path / "plugins" / "probe").world == "dht22-plugin"
