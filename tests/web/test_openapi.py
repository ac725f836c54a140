"""The OpenAPI document: current in docs/, the same as served, naming exactly the routes
the app registers; and a fuzz of the whole API from it (schemathesis, positive and
negative inputs, with and without the token)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp
import pytest

from harvester.web.api import ROUTES, api_version, hub_app
from harvester.web.openapi import document, dumps
from tests.web.hubs import TOKEN, Fleet

pytestmark = pytest.mark.asyncio(loop_scope="session")

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


async def test_docs_openapi_json_is_current() -> None:
    made = dumps(document(ROUTES, version=api_version()))
    assert DOCS.read_text() == made, (
        "docs/openapi.json is stale: python -m harvester.web.openapi > docs/openapi.json"
    )


async def test_the_served_document_is_the_docs_copy(hub_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{hub_url}/api/openapi.json") as reply:
            assert reply.status == 200
            served = await reply.json()
    assert served == json.loads(DOCS.read_text())


async def test_every_api_route_is_documented_and_every_documented_one_exists(
    web_fleet: Fleet,
) -> None:
    app = hub_app(web_fleet.hub)
    registered = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method != "HEAD"
    }
    doc = document(ROUTES, version=api_version())
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    assert registered == documented
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert "200" in codes and "403" in codes, (method, path)  # 403: cross-site
            assert not any(code.startswith("5") and code not in ("502", "503", "504")
                           for code in codes), (method, path)  # fmt: skip


async def fuzz(url: str, workdir: Path, *headers: str) -> tuple[int, str]:
    """schemathesis' CLI against the served document (a child process: the hub keeps
    serving on this loop meanwhile). Bounded: 30 examples per operation, deterministic.

    Checks: no 5xx that the route does not document (status_code_conformance: a 500 is
    documented nowhere; 503/504 are an offline or silent node's documented answers), and
    every response matches its schema and content type. The stream never ends, so it is
    left out (tests/web/test_stream.py covers it)."""
    st = Path(sys.executable).with_name("st")
    args = [
        "run", f"{url}/api/openapi.json",
        "--checks", "status_code_conformance,response_schema_conformance,"
        "content_type_conformance,negative_data_rejection",
        "--max-examples", "30", "--generation-deterministic", "--workers", "1",
        "--request-timeout", "20", "--exclude-path", "/api/stream",
        *[arg for header in headers for arg in ("-H", header)],
    ]  # fmt: skip
    child = await asyncio.create_subprocess_exec(
        str(st), *args, cwd=workdir,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await child.communicate()
    return await child.wait(), out.decode(errors="replace")


@pytest.mark.slow
@pytest.mark.parametrize("token", [None, TOKEN], ids=["anonymous", "bearer"])
async def test_a_fuzz_of_the_api_finds_no_server_error_and_no_schema_mismatch(
    hub_url: str, tmp_path: Path, token: str | None
) -> None:
    headers = [f"Authorization: Bearer {token}"] if token else []
    code, out = await fuzz(hub_url, tmp_path, *headers)
    assert code == 0, out[-6000:]
    assert "0 failures" in out or "passed" in out
