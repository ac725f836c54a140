"""An honest HTTP handler for the host's tests: it shows what the host handed it.

- `/ui/hub/<function>?a=b&...` calls that `hub-data` function (arguments from the
  query) and answers its JSON text, or a 4xx naming the query-error case;
- `/ui/body` answers the request body unchanged (bench: a body both ways);
- `/ui/sized?bytes=N` answers N bytes of text (compression tests);
- `/ui/cached` answers with the plugin's own `cache-control` and `etag`;
- anything else: a JSON echo of method, path, query, headers, body length and settings.

Settings: `title` (echoed), `trap_path` (a request to exactly that path raises, i.e.
traps), `refuse` ("yes": init refuses its settings). Written against the bare WIT
bindings (no SDK), so the test sees the contract itself.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import http_handler as h
from wit_world.imports import hub_data

JSON = h.Header("content-type", "application/json")


def _query(query: str) -> dict[str, str]:
    out = {}
    for part in query.split("&"):
        if part:
            key, _, value = part.partition("=")
            out[key] = value
    return out


def _hub(function: str, q: dict[str, str]) -> str:
    if function == "nodes":
        return hub_data.nodes()
    if function == "node":
        return hub_data.node(q.get("node", ""))
    if function == "latest":
        return hub_data.latest(q.get("node", ""))
    if function == "logs":
        return hub_data.logs(q.get("node", ""), q.get("level", ""), int(q.get("limit", "10")))
    if function == "series":
        return hub_data.series(
            q.get("node", ""),
            q.get("plugin", ""),
            q.get("metric", ""),
            float(q.get("start", "0")),
            float(q.get("end", "1")),
            float(q.get("resolution", "1")),
        )
    raise KeyError(function)


# What init learns lives in the module, not on an instance of the export class.
SETTINGS: dict[str, str] = {}


class HttpHandler(exports.HttpHandler):
    def init(self, settings: list[h.Setting]) -> None:
        SETTINGS.clear()
        SETTINGS.update((s.key, s.value) for s in settings)
        if SETTINGS.get("refuse") == "yes":
            raise Err(h.HandlerError_BadSetting("refuse: asked to refuse"))

    def handle(self, request: h.Request) -> h.Response:
        settings = SETTINGS
        path = request.path
        if settings.get("trap_path") and path == settings["trap_path"]:
            raise RuntimeError(f"asked to trap on {path}")
        q = _query(request.query)
        if path.startswith("/ui/hub/"):
            try:
                text = _hub(path[len("/ui/hub/") :], q)
            except Err as err:
                case = type(err.value).__name__.split("_")[-1]
                body = json.dumps({"case": case, "message": err.value.value})
                return h.Response(422, [JSON], body.encode())
            return h.Response(200, [JSON], text.encode())
        if path == "/ui/body":
            binary = h.Header("content-type", "application/octet-stream")
            return h.Response(200, [binary], request.body)
        if path == "/ui/sized":
            body = ("harvest " * (int(q.get("bytes", "0")) // 8 + 1))[: int(q.get("bytes", "0"))]
            return h.Response(200, [h.Header("content-type", "text/plain")], body.encode())
        if path == "/ui/cached":
            headers = [
                h.Header("content-type", "text/css"),
                h.Header("cache-control", "public, max-age=31536000, immutable"),
            ]
            return h.Response(200, headers, b"body { color: green }")
        echo = {
            "method": request.method,
            "path": path,
            "query": request.query,
            "headers": [[x.name, x.value] for x in request.headers],
            "body_length": len(request.body),
            "title": settings.get("title", ""),
        }
        return h.Response(200, [JSON], json.dumps(echo).encode())
