"""The `http-handler` export: `init` once with the settings, then `handle` per request.

The host owns the socket; this module owns the boundary. A request goes in as the WIT
record (bodies as `list<u8>`, which fastconvert moves as one block, not byte by byte);
what the guest answers is checked against the contract before anyone sees it: a status
in 100-599, at most MAX_HEADERS headers whose names are tokens and whose names and values
cannot split a response (no CR, LF or NUL), no `set-cookie` (a page's plugin must not
set or overwrite the hub's session cookie), a body of at most MAX_BODY bytes. A violation
is a PluginContractError naming the plugin and what was wrong. Header names are handed
back in lower case, whatever case the guest used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wasmtime.component import Record, Variant

from harvester.constants import (
    HTTP_MAX_HEADER_VALUE,
    HTTP_MAX_HEADERS,
    HTTP_MAX_RESPONSE_BODY,
    IFACE_HTTP_HANDLER,
)
from harvester.runtime.errors import PluginContractError
from harvester.runtime.guest_results import SettingValue, error_result, settings_arg
from harvester.runtime.host_api import record

if TYPE_CHECKING:
    from harvester.runtime.plugin import PluginInstance

# RFC 9110's token: what a field name may be.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_SPLITTERS = re.compile(r"[\r\n\x00]")
# Headers a plugin may never send: a cookie of its own could set or shadow the hub's
# session cookie (set-cookie2 is the obsolete spelling browsers ignored, refused alike).
FORBIDDEN_HEADERS = frozenset({"set-cookie", "set-cookie2"})
MAX_HEADER_NAME = 256


@dataclass(frozen=True)
class HttpRequest:
    """A request as the plugin sees it: the host has already removed credentials."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class HttpResponse:
    """A checked response: status 100-599, lower-case header names, body within limit."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of header `name` (lower case), or None."""
        return next((v for n, v in self.headers if n == name), None)


def request_record(request: HttpRequest) -> Record:
    """The WIT `request` record. Header names go in lower case, as the WIT says."""
    return record(
        method=request.method,
        path=request.path,
        query=request.query,
        headers=[record(name=n.lower(), value=v) for n, v in request.headers],
        body=request.body,
    )


def _header(plugin: str, index: int, raw: Any) -> tuple[str, str]:
    name, value = getattr(raw, "name", None), getattr(raw, "value", None)
    if not isinstance(name, str) or not isinstance(value, str):
        raise PluginContractError(plugin, f"header {index} is not a name and a value")
    shown = repr(name[:40])
    if len(name) > MAX_HEADER_NAME or not _TOKEN.match(name):
        raise PluginContractError(plugin, f"header name {shown} is not an HTTP token")
    lower = name.lower()
    if lower in FORBIDDEN_HEADERS:
        raise PluginContractError(plugin, f"header {lower!r} is not allowed: the host owns cookies")
    if _SPLITTERS.search(value):
        raise PluginContractError(plugin, f"header {shown}'s value holds CR, LF or NUL")
    if len(value) > HTTP_MAX_HEADER_VALUE:
        raise PluginContractError(
            plugin, f"header {shown}'s value is longer than {HTTP_MAX_HEADER_VALUE} characters"
        )
    return lower, value


def validate_response(plugin: str, raw: Any) -> HttpResponse:
    """What `handle` returned, checked. Raises PluginContractError naming the problem."""
    status, headers, body = (getattr(raw, f, None) for f in ("status", "headers", "body"))
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise PluginContractError(plugin, f"status {status!r} is not in 100-599")
    if not isinstance(headers, list):
        raise PluginContractError(plugin, "headers are not a list")
    if len(headers) > HTTP_MAX_HEADERS:
        raise PluginContractError(
            plugin, f"{len(headers)} headers, more than the {HTTP_MAX_HEADERS} allowed"
        )
    if not isinstance(body, bytes):
        raise PluginContractError(plugin, f"body is {type(body).__name__}, not bytes")
    if len(body) > HTTP_MAX_RESPONSE_BODY:
        raise PluginContractError(
            plugin, f"body of {len(body)} bytes, more than the {HTTP_MAX_RESPONSE_BODY} allowed"
        )
    checked = tuple(_header(plugin, i, h) for i, h in enumerate(headers))
    return HttpResponse(status, checked, body)


class HttpHandlerExport:
    """A plugin's `http-handler` interface. Every call runs under the instance's deadline.

    Raises PluginLoadError (from the instance) if a function is missing.
    """

    INTERFACE = IFACE_HTTP_HANDLER

    def __init__(self, instance: PluginInstance) -> None:
        self.instance = instance
        self._init = instance.func(IFACE_HTTP_HANDLER, "init")
        self._handle = instance.func(IFACE_HTTP_HANDLER, "handle")

    def init(self, settings: dict[str, SettingValue]) -> None:
        """Raises PluginFault, or PluginReportedError if the plugin refuses its settings."""
        result = self.instance.call(self._init, settings_arg(settings))
        if isinstance(result, Variant):
            raise error_result(self.instance.name, result)

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one request. Raises PluginFault: a trap or a timeout (the instance is
        dead), or PluginContractError for a response the contract forbids (the call
        finished: the runner refuses the response and keeps the instance)."""
        raw = self.instance.call(self._handle, request_record(request))
        return validate_response(self.instance.name, raw)
