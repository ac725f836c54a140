"""A plugin's manifest, `plugin.toml`, beside its code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path, PurePosixPath
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from harvester.build.dev_bench import DevTable
from harvester.build.errors import ManifestError
from harvester.config.load import validation_problems

MANIFEST_NAME = "plugin.toml"
_NAME = r"[a-z][a-z0-9-]*"
# `bme680-plugin` (a world of the contract in wit/) or `namespace:package/world@version`.
WORLD_PATTERN = rf"^(?:{_NAME}:{_NAME}/)?{_NAME}(?:@[0-9][0-9A-Za-z.+-]*)?$"


# `name==version`: a PEP 508 project name pinned to one exact version (no ranges, extras,
# markers or URLs), so a build is reproducible and its cache key means something.
_PIN = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)==([0-9][0-9A-Za-z.+!_-]*)$")


def _exact_pin(requirement: str) -> str:
    if not _PIN.match(requirement):
        raise ValueError("must pin one exact version, as `name==1.2.3`")
    return requirement


def project_name(requirement: str) -> str:
    """The normalised project name of a pinned requirement (PEP 503)."""
    return re.sub(r"[-_.]+", "-", requirement.split("==", 1)[0]).lower()


def _inside_plugin(folder: str) -> str:
    path = PurePosixPath(folder)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError("must be a folder inside the plugin folder, relative to it")
    return folder


class PluginManifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")
    # The WIT world the plugin is built for; it fixes what it can import. A bare name is a
    # world of the contract (wit/); a world in the plugin's own `wit` folders is named in
    # full, `namespace:package/world`, since componentize-py cannot tell the folders apart.
    world: str = Field(pattern=WORLD_PATTERN)
    # The Python module (in the plugin folder) that defines the exported classes.
    module: str = Field(default="app", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # Extra WIT folders, relative to the plugin folder, passed to componentize-py after
    # the contract (a world there may `include` the contract's worlds).
    wit: tuple[Annotated[str, AfterValidator(_inside_plugin)], ...] = ()
    # Third-party pure-Python packages bundled into the component, each pinned exactly.
    # Installed without their dependencies (an Adafruit driver pulls Adafruit-Blinka, real
    # hardware access), so every package the plugin needs is listed here.
    requirements: tuple[Annotated[str, AfterValidator(_exact_pin)], ...] = ()
    summary: str = ""
    # How `harvester plugin test` tries it: grants, settings and simulated devices
    # (build/dev_bench.py); without it, the reference bench for its world.
    dev: DevTable | None = None

    @model_validator(mode="after")
    def _requirements_are_distinct(self) -> Self:
        names = [project_name(r) for r in self.requirements]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"requirements: {', '.join(repeated)} listed more than once")
        return self

    @model_validator(mode="after")
    def _world_is_findable(self) -> Self:
        if self.wit and ":" not in self.world:
            raise ValueError(
                f"world {self.world!r} must be named in full (namespace:package/world)"
                " when the manifest adds `wit` folders"
            )
        return self


def load_manifest(plugin_dir: Path) -> PluginManifest:
    """Read and validate `plugin_dir/plugin.toml`.

    Raises ManifestError, naming the file (and the key and bad value, for invalid content),
    when it cannot be read, is not TOML, or does not validate.
    """
    path = plugin_dir / MANIFEST_NAME
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return PluginManifest.model_validate(raw)
    except OSError as exc:
        raise ManifestError(path, f"cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(path, f"not valid TOML: {exc}") from exc
    except ValidationError as exc:
        raise ManifestError(path, "; ".join(validation_problems(exc))) from exc


def find_plugins(root: Path) -> list[Path]:
    """Plugin folders directly under `root` (those with a plugin.toml), sorted."""
    return sorted(p.parent for p in root.glob(f"*/{MANIFEST_NAME}"))


def plugin_folders(paths: list[Path]) -> list[Path]:
    """The plugin folders `paths` name: each is a plugin folder (it has a plugin.toml) or a
    folder of them, like `plugins/`. Anything else is kept as given, so building it reports
    what is wrong with it. Each folder appears once, in the order given."""
    folders: dict[Path, Path] = {}
    for path in paths:
        inner = [] if (path / MANIFEST_NAME).is_file() else find_plugins(path)
        for folder in inner or [path]:
            folders.setdefault(folder.resolve(), folder)
    return list(folders.values())
