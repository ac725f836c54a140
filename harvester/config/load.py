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


def _without_tags(loc: tuple[int | str, ...], raw: object) -> tuple[int | str, ...]:
    """The location as keys in the file: pydantic puts a tagged union's tag into it
    (`sim.i2c.0.bme680.address`), so walk the input and drop a part that is not a key of
    the table it indexes but one of that table's values (the tag, e.g. `device = "bme680"`).
    """
    keys: list[int | str] = []
    node = raw
    for part in loc:
        if isinstance(node, dict) and part not in node and part in node.values():
            continue
        keys.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list | tuple) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(keys)


def validation_problems(exc: ValidationError, raw: object = None) -> list[str]:
    """One line per problem: the dotted key (`plugins[0].limits.memory_mb`), what is wrong,
    and the value given (omitted for whole tables). With the `raw` input, tagged unions'
    tags are left out of the key (see `_without_tags`)."""
    problems = []
    for err in exc.errors():
        value = err.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        loc = _without_tags(tuple(err["loc"]), raw)
        problems.append(f"{_dotted(loc)}: {err['msg']}{shown}")
    return problems


def _with_node_section(raw: dict[str, Any]) -> dict[str, Any]:
    """The file keeps node-wide keys under [node]; the model takes them at the top."""
    node = raw.pop("node", {})
    if not isinstance(node, dict):
        raise TypeError("[node] must be a table")
    return {**node, **raw}


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML file at `path` as a dict; ConfigError if unreadable or not TOML."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(path, [f"cannot read: {exc.strerror}"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from exc


def load_node_config(path: Path | str) -> NodeConfig:
    """Load and validate a node config.

    Raises ConfigError naming the file and every bad key with its value.
    """
    path = Path(path)
    raw = read_toml(path)
    try:
        raw = _with_node_section(raw)
        config = NodeConfig.model_validate(raw)
    except TypeError as exc:
        raise ConfigError(path, [str(exc)]) from exc
    except ValidationError as exc:
        raise ConfigError(path, validation_problems(exc, raw)) from exc
    # Relative paths are relative to the config file, not to the working directory.
    return config.with_base(path.parent.resolve())
