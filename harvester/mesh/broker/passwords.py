"""Mosquitto's password file: `user:$7$<iterations>$<b64 salt>$<b64 hash>` lines, the
PBKDF2-SHA512 format mosquitto_passwd (2.0) writes and mosquitto checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Final

# mosquitto_passwd's own defaults. The node passwords are 192-bit random tokens
# (`harvester secrets init`), so more stretching would slow every connect and add nothing.
ITERATIONS: Final = 101
SALT_BYTES: Final = 12
HASH_BYTES: Final = 64  # SHA-512's digest size


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """`$7$101$<salt>$<hash>` for `password` (a fresh random salt unless given)."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, HASH_BYTES)
    b64 = base64.b64encode
    return f"$7${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    """Does `password` match a `$7$` hash (ours or mosquitto_passwd's)? False for any
    other or malformed hash."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[:2] != ["", "7"]:
        return False
    try:
        iterations = int(parts[2])
        salt = base64.b64decode(parts[3], validate=True)
        expected = base64.b64decode(parts[4], validate=True)
    except ValueError:
        return False
    if not 1 <= iterations <= 10_000_000 or not expected:
        return False
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, len(expected))
    return hmac.compare_digest(digest, expected)


def password_file(passwords: dict[str, str]) -> str:
    """The file's text: one `user:hash` line per user, sorted by user."""
    return "".join(f"{user}:{hash_password(pw)}\n" for user, pw in sorted(passwords.items()))
