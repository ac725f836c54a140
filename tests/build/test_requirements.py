"""Third-party requirements: pinned, installed by pip once per set of pins, on the path."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import harvester.build.requirements as requirements_module
from harvester.build import BuildError, RequirementsError
from harvester.build.requirements import (
    GUEST_PYTHON,
    install_requirements,
    pip_command,
    requirements_key,
)

PINS = ["adafruit-circuitpython-busdevice==5.2.17", "adafruit-circuitpython-bme680==3.7.16"]


def test_the_key_is_the_sha256_of_the_sorted_pins() -> None:
    assert requirements_key(PINS) == requirements_key(list(reversed(PINS)))
    assert requirements_key(PINS) != requirements_key(PINS[:1])
    assert len(requirements_key(PINS)) == 64


def test_pip_installs_only_the_pins_as_pure_wheels_for_the_guest(tmp_path: Path) -> None:
    cmd = pip_command(PINS, tmp_path)
    assert cmd[1:4] == ["-m", "pip", "install"]
    for flag in (
        "--no-deps",
        "--only-binary=:all:",
        f"--python-version={GUEST_PYTHON}",
        "--platform=any",
        "--abi=none",
    ):
        assert flag in cmd
    assert cmd[cmd.index("--target") + 1] == str(tmp_path)
    assert cmd[-2:] == sorted(PINS)


class FakePip:
    """Stands in for pip's process: records the command, writes a package or fails."""

    def __init__(self, returncode: int = 0, stderr: str = "", files: tuple[str, ...] = ()):
        self.calls: list[list[str]] = []
        self.returncode, self.stderr, self.files = returncode, stderr, files or ("mod.py",)

    def __call__(self, cmd: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        self.calls.append(cmd)
        target = Path(cmd[cmd.index("--target") + 1])
        if self.returncode == 0:
            for name in self.files:
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                (target / name).write_text("X = 1\n")
        return subprocess.CompletedProcess(cmd, self.returncode, "", self.stderr)


def test_an_install_is_cached_under_its_key(tmp_path: Path, monkeypatch) -> None:
    pip = FakePip()
    monkeypatch.setattr(requirements_module.subprocess, "run", pip)
    first = install_requirements("probe", PINS, tmp_path)
    assert first == tmp_path / "requirements" / requirements_key(PINS)
    assert (first / "mod.py").is_file()
    assert install_requirements("probe", list(reversed(PINS)), tmp_path) == first
    assert len(pip.calls) == 1
    assert [p.name for p in (tmp_path / "requirements").iterdir()] == [first.name]


def test_a_pip_failure_names_the_plugin_and_the_requirement(tmp_path: Path, monkeypatch) -> None:
    stderr = (
        "ERROR: Could not find a version that satisfies the requirement "
        "adafruit-circuitpython-bme680==3.7.16 (from versions: 3.7.15)\n"
        "ERROR: No matching distribution found for adafruit-circuitpython-bme680==3.7.16\n"
    )
    monkeypatch.setattr(requirements_module.subprocess, "run", FakePip(1, stderr))
    with pytest.raises(BuildError) as err:
        install_requirements("probe", PINS, tmp_path)
    assert isinstance(err.value, RequirementsError)
    assert err.value.failed == ("adafruit-circuitpython-bme680==3.7.16",)
    assert str(err.value).startswith(
        "probe: cannot install requirement adafruit-circuitpython-bme680==3.7.16: ERROR: Could"
    )
    assert not (tmp_path / "requirements" / requirements_key(PINS)).exists()
    assert list((tmp_path / "requirements").iterdir()) == []  # no half-filled folder left


def test_a_package_with_native_code_is_refused(tmp_path: Path, monkeypatch) -> None:
    pip = FakePip(files=("fast/_speedups.cpython-314-x86_64-linux-gnu.so",))
    monkeypatch.setattr(requirements_module.subprocess, "run", pip)
    with pytest.raises(RequirementsError, match=r"native code cannot run in the sandbox: fast/"):
        install_requirements("probe", PINS, tmp_path)


@pytest.mark.slow
def test_real_pip_installs_a_pin_and_refuses_a_missing_version(tmp_path: Path) -> None:
    # Needs the package index; the same one the plugin builds need.
    folder = install_requirements("probe", ["adafruit-circuitpython-busdevice==5.2.17"], tmp_path)
    assert (folder / "adafruit_bus_device" / "i2c_device.py").is_file()
    assert not list(folder.rglob("*.pyc"))
    with pytest.raises(RequirementsError) as err:
        install_requirements("probe", ["adafruit-circuitpython-busdevice==0.0.1"], tmp_path)
    assert err.value.failed == ("adafruit-circuitpython-busdevice==0.0.1",)
    assert "No matching distribution" in str(err.value)
