"""plugin.toml: validated at load; its errors are build errors that name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvester.build import BuildError, ManifestError, load_manifest, plugin_folders

BASE = 'name = "probe"\nworld = "bme680-plugin"\n'


def manifest_in(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plugin.toml").write_text(text)
    return folder


def test_a_bad_manifest_names_file_and_key(tmp_path: Path) -> None:
    manifest_in(tmp_path, 'name = "Bad Name"\nworld = "bme680-plugin"\n')
    with pytest.raises(ManifestError) as err:
        load_manifest(tmp_path)
    assert str(tmp_path / "plugin.toml") in str(err.value)
    assert "name" in str(err.value) and "'Bad Name'" in str(err.value)


def test_a_manifest_error_is_a_build_error_carrying_the_file(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as err:  # no plugin.toml at all
        load_manifest(tmp_path)
    assert isinstance(err.value, ManifestError)
    assert err.value.path == tmp_path / "plugin.toml"
    assert str(err.value).startswith(f"{tmp_path / 'plugin.toml'}: cannot read")


def test_extra_wit_folders_and_a_qualified_world_are_accepted(tmp_path: Path) -> None:
    text = 'name = "probe"\nworld = "hostile:probe/probe-plugin@0.1.0"\nwit = ["wit", "more/wit"]\n'
    manifest = load_manifest(manifest_in(tmp_path, text))
    assert manifest.wit == ("wit", "more/wit")
    assert manifest.world == "hostile:probe/probe-plugin@0.1.0"
    assert load_manifest(manifest_in(tmp_path / "plain", BASE)).wit == ()


@pytest.mark.parametrize("folder", ["/etc/wit", "../shared-wit", "wit/../../x", ""])
def test_extra_wit_folders_stay_inside_the_plugin_folder(tmp_path: Path, folder: str) -> None:
    manifest_in(tmp_path, f'name = "probe"\nworld = "a:b/c"\nwit = ["{folder}"]\n')
    with pytest.raises(ManifestError, match=r"wit\[0\]: .*inside the plugin folder"):
        load_manifest(tmp_path)


def test_with_extra_wit_the_world_must_be_named_in_full(tmp_path: Path) -> None:
    # componentize-py cannot resolve a bare world name once it reads more than one folder.
    manifest_in(tmp_path, BASE + 'wit = ["wit"]\n')
    with pytest.raises(ManifestError, match=r"world 'bme680-plugin' must be named in full"):
        load_manifest(tmp_path)


def test_folders_are_plugins_or_folders_of_plugins_each_once(tmp_path: Path) -> None:
    one = manifest_in(tmp_path / "one", BASE)
    group = tmp_path / "group"
    b = manifest_in(group / "b", BASE)
    a = manifest_in(group / "a", BASE)
    (group / "sdk").mkdir()  # no plugin.toml: not a plugin, skipped inside a group
    missing = tmp_path / "missing"
    assert plugin_folders([one, group, missing, a]) == [one, a, b, missing]


def test_requirements_are_exact_pins(tmp_path: Path) -> None:
    text = BASE + 'requirements = ["adafruit-circuitpython-ssd1306==2.12.24", "a_b.c==1.0rc1"]\n'
    manifest = load_manifest(manifest_in(tmp_path, text))
    assert manifest.requirements == ("adafruit-circuitpython-ssd1306==2.12.24", "a_b.c==1.0rc1")
    assert load_manifest(manifest_in(tmp_path / "plain", BASE)).requirements == ()


@pytest.mark.parametrize(
    "pin",
    [
        "adafruit-circuitpython-ssd1306",
        "foo>=1.0",
        "foo==1.*",
        "foo[bar]==1.0",
        "foo == 1.0",
        "foo==1.0; python_version>'3'",
        "https://example.invalid/foo.whl",
    ],
)
def test_a_requirement_that_is_not_an_exact_pin_is_named(tmp_path: Path, pin: str) -> None:
    manifest_in(tmp_path, BASE + f'requirements = ["ok==1.0", "{pin}"]\n')
    with pytest.raises(ManifestError) as err:
        load_manifest(tmp_path)
    assert "requirements[1]" in str(err.value) and "exact version" in str(err.value)
    assert repr(pin) in str(err.value)


def test_a_requirement_listed_twice_is_named(tmp_path: Path) -> None:
    manifest_in(tmp_path, BASE + 'requirements = ["Foo_Bar==1.0", "foo-bar==2.0"]\n')
    with pytest.raises(ManifestError, match=r"requirements: foo-bar listed more than once"):
        load_manifest(tmp_path)
