"""A plugin's manifest, `plugin.toml`, beside its code."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harvester.config.load import validation_problems

MANIFEST_NAME = "plugin.toml"


class ManifestError(Exception):
    """A plugin folder has no usable manifest; the message names the file and key."""


class PluginManifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")
    # The WIT world in wit/ that the plugin is built for; it fixes what it can import.
    world: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    # The Python module (in the plugin folder) that defines the exported classes.
    module: str = Field(default="app", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    summary: str = ""


def load_manifest(plugin_dir: Path) -> PluginManifest:
    path = plugin_dir / MANIFEST_NAME
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return PluginManifest.model_validate(raw)
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{path}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        raise ManifestError(f"{path}: {'; '.join(validation_problems(exc))}") from exc
