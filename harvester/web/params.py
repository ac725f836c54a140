"""Reading a request's inputs strictly: a bad one is a 400 whose JSON message names it.

Query values are taken once (a key given twice is refused, not silently the first or last
of them), numbers must be finite and in range, names must match their patterns, bodies
must be small JSON objects without NaN or Infinity.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

from aiohttp import web

from harvester.mesh.payloads import NAME

_NAME = re.compile(NAME)
_WHOLE = re.compile(r"^[0-9]{1,19}$")
MAX_NUMBER_TEXT = 64


def error(status: type[web.HTTPException], message: str, **kwargs: Any) -> web.HTTPException:
    return status(text=json.dumps({"error": message}), content_type="application/json", **kwargs)


def bad_request(message: str) -> web.HTTPBadRequest:
    exc = error(web.HTTPBadRequest, message)
    assert isinstance(exc, web.HTTPBadRequest)
    return exc


def one(request: web.Request, key: str) -> str | None:
    """The query's `key`, or None; refused if given more than once."""
    values = request.query.getall(key, [])
    if len(values) > 1:
        raise bad_request(f"{key}: given {len(values)} times; give it once")
    return values[0] if values else None


def number(request: web.Request, key: str, default: float | None) -> float | None:
    raw = one(request, key)
    if raw is None:
        return default
    try:
        if len(raw) > MAX_NUMBER_TEXT:
            raise ValueError
        value = float(raw)
    except ValueError:
        raise bad_request(f"{key}: {raw[:MAX_NUMBER_TEXT]!r} is not a number") from None
    if not math.isfinite(value):
        raise bad_request(f"{key}: must be finite")
    return value


def whole(request: web.Request, key: str, default: int, low: int, high: int) -> int:
    raw = one(request, key)
    if raw is None:
        return default
    if not _WHOLE.fullmatch(raw) or not low <= int(raw) <= high:
        raise bad_request(
            f"{key}: {raw[:MAX_NUMBER_TEXT]!r} is not a whole number from {low} to {high}"
        )
    return int(raw)


def maybe_whole(request: web.Request, key: str, low: int, high: int) -> int | None:
    return whole(request, key, 0, low, high) if one(request, key) is not None else None


def name(request: web.Request, key: str, *, required: bool, pattern: str = NAME) -> str | None:
    raw = one(request, key)
    if raw is None:
        if required:
            raise bad_request(f"{key}: required")
        return None
    if not re.fullmatch(pattern, raw):
        raise bad_request(f"{key}: {raw[:64]!r} is not a valid name")
    return raw


def path_name(request: web.Request, key: str) -> str:
    """A node or plugin name from the path."""
    raw = request.match_info[key]
    if not _NAME.fullmatch(raw):
        raise bad_request(f"{key}: {raw[:64]!r} is not a {key} name")
    return raw


def _no_constants(text: str) -> NoReturn:
    raise ValueError(f"{text} is not JSON")


async def json_object(request: web.Request, keys: set[str]) -> dict[str, Any]:
    """The body as a JSON object with only `keys`. Too large is a 413 (client_max_size)."""
    try:
        text = await request.text()
    except web.HTTPRequestEntityTooLarge:
        limit = request.client_max_size
        raise error(
            web.HTTPRequestEntityTooLarge, f"body: larger than {limit} bytes", max_size=limit
        ) from None
    except (UnicodeDecodeError, LookupError):  # not UTF-8, or a charset Python lacks
        raise bad_request("body: not JSON (UTF-8)") from None
    try:
        body = json.loads(text, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise bad_request("body: not JSON") from None
    if not isinstance(body, dict):
        raise bad_request("body: must be a JSON object")
    unknown = sorted(set(body) - keys)
    if unknown:
        raise bad_request(f"body: unknown keys {', '.join(unknown)[:200]}")
    return body
