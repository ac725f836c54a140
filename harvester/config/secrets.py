"""Secrets files: a node's MQTT credentials and the hub's API token.

They live outside the repo (a state folder, /run/secrets, a NixOS secrets path) as small
TOML files readable by the node's user only. A file others may read is refused: a
password that every local user can read is not a secret.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path


class SecretsError(Exception):
    """A secrets file is missing, unreadable, too open or malformed; names the file."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never print a password into a log line
        return f"Credentials(username={self.username!r}, password=***)"


def _read_private_toml(path: Path) -> dict[str, object]:
    try:
        info = path.stat()
    except OSError as exc:
        raise SecretsError(f"{path}: cannot read: {exc.strerror}") from exc
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretsError(
            f"{path}: readable by others (mode {stat.S_IMODE(info.st_mode):04o}); chmod 600 it"
        )
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SecretsError(f"{path}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SecretsError(f"{path}: not valid TOML: {exc}") from exc


def _text(raw: dict[str, object], key: str, path: Path) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise SecretsError(f"{path}: needs a non-empty string {key!r}")
    return value


def load_credentials(path: Path) -> Credentials:
    """`username` and `password` from a private TOML file."""
    raw = _read_private_toml(path)
    unknown = sorted(set(raw) - {"username", "password"})
    if unknown:
        raise SecretsError(f"{path}: unknown keys {', '.join(unknown)}")
    return Credentials(_text(raw, "username", path), _text(raw, "password", path))


def load_token(path: Path) -> str:
    """`token` from a private TOML file (at least 16 characters)."""
    raw = _read_private_toml(path)
    token = _text(raw, "token", path)
    if len(token) < 16:
        raise SecretsError(f"{path}: the token is too short (at least 16 characters)")
    return token


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only, created that way (no window in
    which it is readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT
