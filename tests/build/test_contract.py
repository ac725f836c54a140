"""The contract (WIT and guest SDK) is package data found through importlib.resources."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest

from harvester.build import BuildError, contract, sdk_dir, wit_dir

ROOT = Path(__file__).resolve().parents[2]


def test_in_a_source_checkout_the_contract_is_the_repositorys_own() -> None:
    package = files(contract.CONTRACT_PACKAGE)
    assert package == ROOT / "harvester" / "_contract"  # the package imported here
    assert wit_dir() == ROOT / "wit"
    assert sdk_dir() == ROOT / "plugins" / "sdk"
    assert (sdk_dir() / "harvester_sdk" / "__init__.py").is_file()


def fake_package(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    package = root / "harvester" / "_contract"
    package.mkdir(parents=True)
    monkeypatch.setattr(contract, "files", lambda name: package)
    return package


def test_data_shipped_in_the_package_comes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = fake_package(tmp_path / "site-packages", monkeypatch)
    (package / "wit").mkdir()
    (package / "sdk").mkdir()
    assert (wit_dir(), sdk_dir()) == (package / "wit", package / "sdk")


def test_missing_data_is_a_build_error_naming_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Folders named like a checkout's, but no pyproject.toml beside them: not a checkout.
    package = fake_package(tmp_path / "site-packages", monkeypatch)
    (tmp_path / "site-packages" / "wit").mkdir()
    with pytest.raises(BuildError) as err:
        wit_dir()
    assert str(package / "wit") in str(err.value)
    assert str(tmp_path / "site-packages" / "wit") in str(err.value)
    assert "reinstall harvester" in str(err.value)


def test_a_package_not_on_the_file_system_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class InZip:
        def __truediv__(self, name: str) -> InZip:
            return self

    monkeypatch.setattr(contract, "files", lambda name: InZip())
    with pytest.raises(BuildError, match="not installed as plain files"):
        sdk_dir()
