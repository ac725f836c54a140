"""A route of the hub's API as data: its handler and what the OpenAPI document says of it
(harvester/web/openapi.py). hub_app registers the routes from the same table the document
is made from, so neither can list a route the other lacks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# A schema: a type pydantic can describe (TypedDict, dataclass, model), or JSON Schema.
Schema = type | Mapping[str, Any]


@dataclass(frozen=True)
class Param:
    name: str
    where: Literal["path", "query", "header"]
    schema: Mapping[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Answer:
    description: str
    schema: Schema | None = None  # None: the error shape {"error": "..."}
    media_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)  # name -> description


@dataclass(frozen=True)
class Route:
    method: Literal["GET", "POST"]
    path: str
    handler: Handler
    summary: str
    answers: Mapping[int, Answer]
    params: tuple[Param, ...] = ()
    body: Schema | None = None
    body_type: str = "application/json"  # the request body's media type
    access: Literal["open", "read", "write", "login"] = "read"
    tag: str = "fleet"
