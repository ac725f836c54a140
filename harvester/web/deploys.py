"""The hub's deploy API: take a signed bundle for a node, list deploys and their state.

    POST /api/deploys?node=pi4   body: the bundle (application/octet-stream), write access
    GET  /api/deploys[?node=pi4] every deploy the hub holds or held, newest first

The body is read here in chunks up to MAX_BUNDLE (the app's 16 KiB body limit is for JSON);
the hub stores it and holds it for the node (harvester/mesh/deploy_desk.py).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Final

from aiohttp import web
from typing_extensions import TypedDict  # pydantic reads these on Python < 3.12

from harvester.mesh.deploy_desk import DeployDesk, DeployEntry, UnknownNode
from harvester.mesh.payloads import NAME
from harvester.node.deploy import BundleError
from harvester.web.params import bad_request, error, name
from harvester.web.routes import Answer, Param, Route

DESK: web.AppKey[DeployDesk] = web.AppKey("deploy desk", DeployDesk)
MAX_BUNDLE: Final = 96 * 1024 * 1024
CHUNK: Final = 256 * 1024


class DeployList(TypedDict):
    deploys: list[DeployEntry]  # the desk's own records: one shape for disk and API


async def read_bundle(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BUNDLE:
        raise error(web.HTTPRequestEntityTooLarge, f"a bundle is at most {MAX_BUNDLE} bytes",
                    max_size=MAX_BUNDLE, actual_size=request.content_length)  # fmt: skip
    parts: list[bytes] = []
    size = 0
    while chunk := await request.content.read(CHUNK):
        size += len(chunk)
        if size > MAX_BUNDLE:
            raise error(web.HTTPRequestEntityTooLarge, f"a bundle is at most {MAX_BUNDLE} bytes",
                        max_size=MAX_BUNDLE, actual_size=size)  # fmt: skip
        parts.append(chunk)
    return b"".join(parts)


async def submit(request: web.Request) -> web.Response:
    node = name(request, "node", required=True)
    assert node is not None
    raw = await read_bundle(request)
    try:
        entry = await request.app[DESK].submit(node, raw)
    except BundleError as exc:
        raise bad_request(f"body: {exc}") from None
    except UnknownNode as exc:
        raise error(web.HTTPNotFound, str(exc)) from None
    return web.json_response(asdict(entry))


async def listing(request: web.Request) -> web.Response:
    node = name(request, "node", required=False)
    entries = request.app[DESK].entries(node)
    return web.json_response({"deploys": [asdict(e) for e in entries]})


_NODE = Param("node", "query", {"type": "string", "pattern": NAME}, "the node")
_BAD = Answer("a parameter is malformed, or the body is not a deploy bundle")

ROUTES: Final[tuple[Route, ...]] = (
    Route("POST", "/api/deploys", submit,
          "hold a signed deploy bundle for a node (harvester deploy sends it)",
          {200: Answer("kept and held for the node: pending until it answers", DeployEntry),
           400: _BAD,
           404: Answer("no node of that name has reported to this hub"),
           413: Answer(f"the bundle is larger than {MAX_BUNDLE} bytes")},
          (Param("node", "query", {"type": "string", "pattern": NAME}, "the node", True),),
          body={"type": "string", "contentMediaType": "application/octet-stream"},
          body_type="application/octet-stream", access="write", tag="deploys"),
    Route("GET", "/api/deploys", listing,
          "deploys held or answered, newest first: pending until the node answers",
          {200: Answer("the deploys", DeployList), 400: _BAD}, (_NODE,), tag="deploys"),
)  # fmt: skip
