"""Headers every response of the hub's web server gets, and compression.

The security headers are set in `on_response_prepare`, so errors, streams and whatever
routes are added later (the UI's) get them too. Compression is a middleware (aiohttp picks
the coding before that hook runs): JSON and text of 1 KB or more is gzip'd for a client
that accepts it, unless the handler already encoded it (the UI host caches its own).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import hdrs, web

CSP: Final = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self';"
    " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY: Final = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
COMPRESS_MIN: Final = 1024
COMPRESSIBLE: Final = ("application/json", "text/", "application/javascript", "image/svg+xml")


async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY.items():
        response.headers.setdefault(name, value)
    if response.content_type == "text/html":
        response.headers.setdefault("Content-Security-Policy", CSP)


@web.middleware
async def compression(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    content_type = response.content_type
    if (
        isinstance(response, web.Response)
        and not isinstance(response, web.FileResponse)
        and content_type.startswith(COMPRESSIBLE)
        and content_type != "text/event-stream"
        and hdrs.CONTENT_ENCODING not in response.headers
        and response.body is not None
        and isinstance(response.body, bytes | bytearray)
        and len(response.body) >= COMPRESS_MIN
        and "gzip" in request.headers.get(hdrs.ACCEPT_ENCODING, "").lower()
    ):
        response.enable_compression(web.ContentCoding.gzip)
        vary = response.headers.get(hdrs.VARY)
        if vary is None or "accept-encoding" not in vary.lower():
            response.headers[hdrs.VARY] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"
    return response


def install(app: web.Application) -> None:
    app.on_response_prepare.append(on_prepare)
