"""Ed25519 deploy keys: made, written, read, and named.

A public key travels as one line, `ed25519:<base64 of the raw 32 bytes>` (what
`harvester keys list` prints, what a node's `deploy.trusted_keys` and each `*.pub` file
in `deploy.trusted_keys_dir` hold). Its key id is the first 16 hex digits of sha256 of
the raw 32 bytes: short enough to print, long enough that two keys of one fleet never
share it. A private key is a PKCS#8 PEM file readable by its owner only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harvester.config.model import DeployConfig
from harvester.node.deploy.errors import KeyFileError

PREFIX: Final = "ed25519:"
PUBLIC_SUFFIX: Final = ".pub"
PRIVATE_SUFFIX: Final = ".pem"
KEY_ID_HEX: Final = 16


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of sha256 of the raw public key."""
    return hashlib.sha256(raw_public(key)).hexdigest()[:KEY_ID_HEX]


def public_line(key: Ed25519PublicKey) -> str:
    """`ed25519:<base64>`: the one form a public key is written and trusted in."""
    return PREFIX + base64.b64encode(raw_public(key)).decode()


def parse_public(line: str, *, where: str) -> Ed25519PublicKey:
    """A public key from its `ed25519:<base64>` line. Raises KeyFileError naming `where`."""
    text = line.strip()
    if not text.startswith(PREFIX):
        raise KeyFileError(f"{where}: not an ed25519 public key (want 'ed25519:<base64>')")
    try:
        raw = base64.b64decode(text[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFileError(f"{where}: the key is not base64: {exc}") from exc
    if len(raw) != 32:
        raise KeyFileError(f"{where}: an ed25519 key is 32 bytes, this one {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True)
class TrustedKey:
    key: Ed25519PublicKey
    key_id: str
    source: str  # where it was read: "deploy.trusted_keys[0]" or a .pub file


def trusted_keys(deploy: DeployConfig) -> dict[str, TrustedKey]:
    """Every key `deploy` trusts, by key id: its `trusted_keys` lines and each *.pub file of
    its `trusted_keys_dir` (a folder that does not exist holds none). Raises KeyFileError
    naming the line or file that is not a key: a broken trust list is not shrugged off."""
    found: dict[str, TrustedKey] = {}
    sources = [(f"deploy.trusted_keys[{i}]", line) for i, line in enumerate(deploy.trusted_keys)]
    folder = deploy.trusted_keys_dir
    if folder is not None and folder.is_dir():
        for path in sorted(folder.glob(f"*{PUBLIC_SUFFIX}")):
            try:
                sources.append((str(path), path.read_text(encoding="utf-8")))
            except OSError as exc:
                raise KeyFileError(f"{path}: cannot read: {exc.strerror}") from exc
    for where, line in sources:
        key = parse_public(line, where=where)
        found[key_id(key)] = TrustedKey(key, key_id(key), where)
    return found


def generate() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def write_key_pair(key: Ed25519PrivateKey, private_path: Path, public_path: Path) -> None:
    """The private key as PEM (0600, made so: never readable by others, even briefly) and
    its public line beside. Raises FileExistsError rather than replace a key."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public_path.write_text(public_line(key.public_key()) + "\n", encoding="utf-8")


def load_private(path: Path) -> Ed25519PrivateKey:
    """The signing key in `path`. Raises KeyFileError naming the file: missing, readable
    by others, or not an unencrypted ed25519 PEM."""
    try:
        mode = path.stat().st_mode & 0o077
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read the signing key: {exc.strerror}") from exc
    if mode:
        raise KeyFileError(f"{path}: a private key readable by others (chmod 600 it)")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: a {type(key).__name__}, not an ed25519 key")
    return key
