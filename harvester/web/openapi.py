"""The OpenAPI 3.1 document of the hub's API, made from the route table (harvester/web/
routes.py) and the answer types themselves (pydantic's JSON Schema of the TypedDicts,
dataclasses and payload models the handlers serialise), served at GET /api/openapi.json
and kept as docs/openapi.json (`python -m harvester.web.openapi > docs/openapi.json`;
tests/web/test_openapi.py checks it is current)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from harvester.mesh.hub_queries import adapter
from harvester.web.routes import Answer, Route, Schema

ERROR: Final = {
    "type": "object",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
    "additionalProperties": False,
}
REF: Final = "#/components/schemas/{model}"
SECURITY_SCHEMES: Final = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "the hub's web token"},
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "harvester_session",
        "description": "set by POST /api/login",
    },
    "csrf": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-Token",
        "description": "the csrf_token of POST /api/login; with the session cookie, for writes",
    },
}
# Who may call what (auth.py). Reads: open, unless `read_access = "token"`.
SECURITY: Final = {
    "open": [{}],
    "login": [{}],
    "read": [{}, {"bearer": []}, {"session": []}],
    "write": [{"bearer": []}, {"session": [], "csrf": []}],
}
ACCESS_ANSWERS: Final = {
    "open": {403: "cross-site (Sec-Fetch-Site: cross-site)"},
    "login": {403: "a wrong token, writes off (no token configured), or cross-site"},
    "read": {
        401: 'no credentials, with read_access = "token"',
        403: "a wrong bearer token, or cross-site",
    },
    "write": {
        401: "no credentials",
        403: "a wrong token or CSRF token, no token configured (writes off), or cross-site",
        413: "the body is larger than 16 KiB",
    },
}


class _Schemas:
    """Component schemas collected as routes name them."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {"Error": ERROR}

    def of(self, schema: Schema | None) -> Mapping[str, Any]:
        if schema is None:
            return {"$ref": REF.format(model="Error")}
        if isinstance(schema, Mapping):
            return schema
        made = adapter(schema).json_schema(mode="serialization", ref_template=REF)
        self.components.update(made.pop("$defs", {}))
        name = schema.__name__
        self.components[name] = made
        return {"$ref": REF.format(model=name)}


def _answer(schemas: _Schemas, answer: Answer) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": answer.description,
        "content": {answer.media_type: {"schema": schemas.of(answer.schema)}},
    }
    if answer.headers:
        out["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in answer.headers.items()
        }
    return out


def operation(schemas: _Schemas, route: Route) -> dict[str, Any]:
    answers: dict[int, Answer] = {
        status: Answer(text) for status, text in ACCESS_ANSWERS[route.access].items()
    }
    answers.update(route.answers)
    op: dict[str, Any] = {
        "operationId": route.handler.__name__,
        "summary": route.summary,
        "tags": [route.tag],
        "security": SECURITY[route.access],
        "responses": {
            str(status): _answer(schemas, answer) for status, answer in sorted(answers.items())
        },
    }
    if route.params:
        op["parameters"] = [
            {
                "name": p.name,
                "in": p.where,
                "required": p.required or p.where == "path",
                "description": p.description,
                "schema": dict(p.schema),
            }
            for p in route.params
        ]
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {route.body_type: {"schema": schemas.of(route.body)}},
        }
    return op


def document(routes: Iterable[Route], *, version: str) -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = operation(schemas, route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Harvester hub API",
            "version": version,
            "description": "The hub's JSON API over its history and live state (docs/api.md).",
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    from harvester.web.api import ROUTES, api_version

    print(dumps(document(ROUTES, version=api_version())), end="")
