"""Reading a node config file: TOML in, a validated `NodeConfig` out, or a `ConfigError`."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harvester.config.model import NodeConfig


class ConfigError(Exception):
    """A config file is unreadable or invalid. The message names file, key and bad value."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(problems))
        self.path = path
        self.problems = problems


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validation_problems(exc: ValidationError) -> list[str]:
    """One line per problem: the dotted key (`plugins[0].limits.memory_mb`), what is wrong,
    and the value given (omitted for whole tables)."""
    problems = []
    for err in exc.errors():
        value = err.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        problems.append(f"{_dotted(tuple(err['loc']))}: {err['msg']}{shown}")
    return problems


def _with_node_section(raw: dict[str, Any]) -> dict[str, Any]:
    """The file keeps node-wide keys under [node]; the model takes them at the top."""
    node = raw.pop("node", {})
    if not isinstance(node, dict):
        raise TypeError("[node] must be a table")
    return {**node, **raw}


def _resolve_paths(config: NodeConfig, base: Path) -> NodeConfig:
    """Make relative paths relative to the config file, not to the working directory."""
    sim = config.sim.model_copy(
        update={
            "i2c": tuple(
                d.model_copy(update={"dump": (base / d.dump).resolve()}) if d.dump else d
                for d in config.sim.i2c
            )
        }
    )
    return config.model_copy(
        update={
            "plugin_dir": (base / config.plugin_dir).resolve(),
            "cache_dir": (base / config.cache_dir).resolve(),
            "sim": sim,
        }
    )


def load_node_config(path: Path | str) -> NodeConfig:
    """Load and validate a node config.

    Raises ConfigError naming the file and every bad key with its value.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(path, [f"cannot read: {exc.strerror}"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from exc
    try:
        config = NodeConfig.model_validate(_with_node_section(raw))
    except TypeError as exc:
        raise ConfigError(path, [str(exc)]) from exc
    except ValidationError as exc:
        raise ConfigError(path, validation_problems(exc)) from exc
    return _resolve_paths(config, path.parent.resolve())
