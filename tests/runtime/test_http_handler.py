"""The http-handler export: what the host checks of a response, and real handlers (an
honest echo, and a hostile one that attacks each check) run through the real runtime."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace as NS
from typing import Any

import pytest

from harvester.config import Grants, Limits
from harvester.config.model import SimConfig
from harvester.constants import HTTP_MAX_RESPONSE_BODY
from harvester.hal import PluginHal
from harvester.hal.sim.backend import SimBackend
from harvester.node.events import LogEvent
from harvester.node.plugin_log import PluginLog
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.errors import (
    PluginContractError,
    PluginLoadError,
    PluginReportedError,
    PluginTimeout,
    PluginTrap,
)
from harvester.runtime.http import HttpHandlerExport, HttpRequest, validate_response
from harvester.runtime.loader import load_component
from harvester.runtime.plugin import PluginInstance
from tests.conftest import ARTIFACTS
from tests.runtime.hub_fakes import FakeHubData


def raw(status: Any = 200, headers: list[tuple[str, str]] | None = None, body: Any = b"") -> NS:
    return NS(
        status=status,
        headers=[NS(name=n, value=v) for n, v in (headers or [])],
        body=body,
    )


def test_a_good_response_comes_back_with_lower_case_names() -> None:
    got = validate_response("ui", raw(201, [("Content-Type", "text/plain")], b"hi"))
    assert (got.status, got.headers, got.body) == (201, (("content-type", "text/plain"),), b"hi")
    assert got.header("content-type") == "text/plain"


@pytest.mark.parametrize(
    "response,message",
    [
        (raw(status=0), "status 0 is not in 100-599"),
        (raw(status=99), "status 99 is not in 100-599"),
        (raw(status=600), "status 600 is not in 100-599"),
        (raw(headers=[("x-a", "b\r\nset-cookie: s=1")]), "value holds CR, LF or NUL"),
        (raw(headers=[("x-a", "line\nbreak")]), "value holds CR, LF or NUL"),
        (raw(headers=[("x-a", "nul\x00")]), "value holds CR, LF or NUL"),
        (raw(headers=[("x a", "b")]), "is not an HTTP token"),
        (raw(headers=[("x-a\r\nx-b", "b")]), "is not an HTTP token"),
        (raw(headers=[("", "b")]), "is not an HTTP token"),
        (raw(headers=[("Set-Cookie", "s=1")]), "'set-cookie' is not allowed"),
        (raw(headers=[(f"x-{i}", "v") for i in range(65)]), "65 headers, more than the 64"),
        (raw(headers=[("x-a", "v" * 9000)]), "longer than 8192"),
        (raw(body=b"x" * (HTTP_MAX_RESPONSE_BODY + 1)), "more than the 4194304 allowed"),
    ],
)
def test_a_response_the_contract_forbids_is_refused_naming_the_plugin(
    response: NS, message: str
) -> None:
    with pytest.raises(PluginContractError, match=message) as refused:
        validate_response("ui", response)
    assert refused.value.plugin == "ui" and "plugin 'ui'" in str(refused.value)


def test_64_headers_and_a_4_mib_body_are_allowed() -> None:
    headers = [(f"x-{i}", "v") for i in range(64)]
    got = validate_response("ui", raw(599, headers, b"x" * HTTP_MAX_RESPONSE_BODY))
    assert len(got.headers) == 64 and len(got.body) == HTTP_MAX_RESPONSE_BODY


# -- real components -------------------------------------------------------------------


class Made:
    def __init__(self, handler: HttpHandlerExport, log: list[LogEvent]) -> None:
        self.handler = handler
        self.log = log


@pytest.fixture
def make(http_plugin_dir: Path, engine: Any) -> Iterator[Callable[..., Made]]:
    """An initialised HttpHandlerExport of a built test plugin, without a supervisor."""
    cache = ArtifactCache(ARTIFACTS)
    lines: list[LogEvent] = []
    bus = NS(publish=lines.append, node="test-node")  # the plugin log's lines, kept

    def made(
        component: str,
        *,
        grants: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        hub_data: Any = None,
        **limits: Any,
    ) -> Made:
        granted = Grants.model_validate(grants or {})
        plugin_log = PluginLog(component, bus)  # type: ignore[arg-type]
        instance = PluginInstance(
            name=component,
            engine=engine,
            component=cache.load(engine, http_plugin_dir / f"{component}.wasm", plugin=component),
            hal=PluginHal(SimBackend(SimConfig()), granted, on_refusal=plugin_log.refused),
            grants=granted,
            limits=Limits(**limits),
            guest_log=plugin_log,
            hub_data=hub_data,
        )
        handler = instance.export(HttpHandlerExport)
        assert handler is not None
        handler.init(settings or {})
        return Made(handler, lines)

    yield made


def get(path: str, query: str = "", body: bytes = b"", method: str = "GET") -> HttpRequest:
    return HttpRequest(method, path, query, (("accept", "*/*"), ("x-trace", "7")), body)


pytestmark = pytest.mark.wasm
# Every component of world dashboard-plugin imports hub-data, used or not.
HUB = {"hub_data": True}


def test_the_echo_sees_the_request_as_sent(make: Callable[..., Made]) -> None:
    echo = make("http-echo", grants={"hub_data": True}, settings={"title": "Greenhouse"})
    got = echo.handler.handle(get("/ui/a%20b", "x=1&y=2", b"hello", "POST"))
    assert got.status == 200 and got.header("content-type") == "application/json"
    seen = json.loads(got.body)
    assert seen == {
        "method": "POST",
        "path": "/ui/a%20b",
        "query": "x=1&y=2",
        "headers": [["accept", "*/*"], ["x-trace", "7"]],
        "body_length": 5,
        "title": "Greenhouse",
    }


@pytest.mark.parametrize("size", [0, 1024, 100 * 1024, 1024 * 1024])
def test_bodies_cross_both_ways_unchanged(make: Callable[..., Made], size: int) -> None:
    echo = make("http-echo", grants={"hub_data": True}, memory_mb=128)
    body = bytes(range(256)) * (size // 256) + b"\x00" * (size % 256)
    assert echo.handler.handle(get("/ui/body", body=body, method="PUT")).body == body


def test_init_can_refuse_its_settings(make: Callable[..., Made]) -> None:
    with pytest.raises(PluginReportedError, match="bad-setting: refuse: asked to refuse"):
        make("http-echo", grants={"hub_data": True}, settings={"refuse": "yes"})


def test_hub_data_reaches_the_provider_and_its_errors_come_back_as_cases(
    make: Callable[..., Made],
) -> None:
    hub = FakeHubData()
    echo = make("http-echo", grants={"hub_data": True}, hub_data=hub)
    assert echo.handler.handle(get("/ui/hub/nodes")).body == b'{"nodes": ["pi4"]}'
    got = echo.handler.handle(get("/ui/hub/logs", "node=pi4&level=warn&limit=5"))
    assert got.body == b'{"logs": "pi4 warn 5"}'
    assert hub.calls[-1] == ("logs", "pi4", "warn", 5)
    missing = echo.handler.handle(get("/ui/hub/latest", "node=nope"))
    assert (missing.status, missing.body) == (
        422,
        b'{"case": "NotFound", "message": "no node \'nope\'"}',
    )


@pytest.mark.parametrize(
    "query,message",
    [
        ("node=pi4&limit=0", "limit must be 1-1000, got 0"),
        ("node=pi4&limit=1001", "limit must be 1-1000, got 1001"),
        ("node=pi4&level=loud&limit=1", "min-level must be"),
        ("node=&limit=1", "node must be 1-256 characters"),
    ],
)
def test_hub_data_arguments_are_checked_before_the_provider_sees_them(
    make: Callable[..., Made], query: str, message: str
) -> None:
    hub = FakeHubData()
    echo = make("http-echo", grants={"hub_data": True}, hub_data=hub)
    got = echo.handler.handle(get("/ui/hub/logs", query))
    assert got.status == 422 and b'"BadArgument"' in got.body and message.encode() in got.body
    assert hub.calls == []


def test_non_finite_series_arguments_are_refused(make: Callable[..., Made]) -> None:
    hub = FakeHubData()
    echo = make("http-echo", grants={"hub_data": True}, hub_data=hub)
    q = "node=pi4&plugin=dht22&metric=t&start=0&end=inf&resolution=1"
    got = echo.handler.handle(get("/ui/hub/series", q))
    assert b"end must be a finite number" in got.body and hub.calls == []
    good = echo.handler.handle(get("/ui/hub/series", q.replace("inf", "60")))
    assert good.status == 200 and hub.calls == [("series", "pi4", "dht22", "t", 0.0, 60.0, 1.0)]


def test_a_provider_that_breaks_answers_unavailable_and_is_logged(
    make: Callable[..., Made],
) -> None:
    echo = make("http-echo", grants={"hub_data": True}, hub_data=FakeHubData(broken=True))
    got = echo.handler.handle(get("/ui/hub/nodes"))
    assert got.status == 422
    assert got.body == b'{"case": "Unavailable", "message": "host error: RuntimeError"}'
    assert any("hub-data@1.2.0#nodes failed" in e.message for e in echo.log)
    # The instance is unharmed: the next request is answered.
    assert echo.handler.handle(get("/ui/x")).status == 200


def test_an_oversized_answer_is_not_handed_over(make: Callable[..., Made]) -> None:
    echo = make("http-echo", grants={"hub_data": True}, hub_data=FakeHubData(huge=True))
    got = echo.handler.handle(get("/ui/hub/nodes"))
    assert b'"Unavailable"' in got.body and b"more than 4194304: ask for less" in got.body


def test_without_a_provider_hub_data_is_unavailable(make: Callable[..., Made]) -> None:
    echo = make("http-echo", grants={"hub_data": True}, hub_data=None)
    got = echo.handler.handle(get("/ui/hub/nodes"))
    assert b"this node has no hub data" in got.body


def test_hub_data_without_the_grant_is_refused_at_load_and_at_link(
    http_plugin_dir: Path, engine: Any, make: Callable[..., Made]
) -> None:
    with pytest.raises(PluginLoadError, match=r"imports harvester:plugin/hub-data@1\.2\.0, which"):
        load_component(
            engine,
            ArtifactCache(ARTIFACTS),
            http_plugin_dir / "http-echo.wasm",
            plugin="http-echo",
            grants=Grants(),
            drivable=[HttpHandlerExport.INTERFACE],
        )
    # Past the loader's check (as if it were skipped), the linker refuses it too.
    with pytest.raises(PluginLoadError, match=r"cannot link.*hub-data"):
        make("http-echo", grants={}, hub_data=FakeHubData())


@pytest.mark.parametrize(
    "path,message",
    [
        ("/ui/crlf", "'x-note''s value holds CR, LF or NUL"),
        ("/ui/nul", "'x-note''s value holds CR, LF or NUL"),
        ("/ui/bad-name", "header name 'x note' is not an HTTP token"),
        ("/ui/set-cookie", "header 'set-cookie' is not allowed"),
        ("/ui/status-0", "status 0 is not in 100-599"),
        ("/ui/status-1000", "status 1000 is not in 100-599"),
        ("/ui/many-headers", "100 headers, more than the 64 allowed"),
    ],
)
def test_each_attack_on_the_response_is_refused_and_the_instance_serves_on(
    make: Callable[..., Made], path: str, message: str
) -> None:
    hostile = make("http-hostile", grants=HUB, memory_mb=128)
    with pytest.raises(PluginContractError, match=message) as refused:
        hostile.handler.handle(get(path))
    assert "plugin 'http-hostile'" in str(refused.value)
    assert hostile.handler.handle(get("/ui/other")).body == b"fine"


def test_a_trap_in_handle_is_a_trap(make: Callable[..., Made]) -> None:
    hostile = make("http-hostile", grants=HUB)
    with pytest.raises(PluginTrap, match="Python function threw an unexpected exception"):
        hostile.handler.handle(get("/ui/trap"))
    said = [e.message for e in hostile.log if e.origin == "plugin"]
    assert "RuntimeError: hostile handler raised on purpose" in said


def test_a_10_mb_body_is_stopped_by_wasmtime_before_the_host_holds_it(
    make: Callable[..., Made],
) -> None:
    # wasmtime bounds what one call may copy out of a guest (its hostcall fuel: list<u8>
    # crosses the C API as one 32-byte val per byte), so the body never reaches
    # validate_response: the instance traps, and is replaced like after any trap.
    hostile = make("http-hostile", grants=HUB, memory_mb=128)
    with pytest.raises(PluginTrap, match="too much data is being copied between the host"):
        hostile.handler.handle(get("/ui/huge"))


def test_a_handler_that_never_returns_is_stopped_at_its_deadline(
    make: Callable[..., Made],
) -> None:
    hostile = make("http-hostile", grants=HUB, call_timeout_ms=200)
    with pytest.raises(PluginTimeout):
        hostile.handler.handle(get("/ui/loop"))
