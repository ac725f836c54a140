"""Hostile: each path is one attempt to break the host's HTTP boundary.

/ui/crlf: a header value that splits the response (CRLF, then its own set-cookie);
/ui/bad-name: a header name that is not a token; /ui/nul: a NUL in a value;
/ui/set-cookie: a cookie of its own; /ui/status-0, /ui/status-1000: no such status;
/ui/many-headers: 100 headers; /ui/huge: a 10 MB body; /ui/trap: an uncaught exception;
/ui/loop: never returns; anything else: 200 "fine". It never calls hub-data (its world
imports it all the same).
"""

from wit_world import exports
from wit_world.exports import http_handler as h

TEXT = h.Header("content-type", "text/plain")


class HttpHandler(exports.HttpHandler):
    def init(self, settings: list[h.Setting]) -> None:
        pass

    def handle(self, request: h.Request) -> h.Response:
        path = request.path
        if path == "/ui/crlf":
            return h.Response(200, [TEXT, h.Header("x-note", "a\r\nset-cookie: stolen=1")], b"x")
        if path == "/ui/bad-name":
            return h.Response(200, [h.Header("x note", "a")], b"x")
        if path == "/ui/nul":
            return h.Response(200, [h.Header("x-note", "a\x00b")], b"x")
        if path == "/ui/set-cookie":
            return h.Response(200, [TEXT, h.Header("Set-Cookie", "session=mine")], b"x")
        if path == "/ui/status-0":
            return h.Response(0, [TEXT], b"x")
        if path == "/ui/status-1000":
            return h.Response(1000, [TEXT], b"x")
        if path == "/ui/many-headers":
            return h.Response(200, [h.Header(f"x-h{i}", "v") for i in range(100)], b"x")
        if path == "/ui/huge":
            return h.Response(200, [TEXT], b"A" * (10 * 1024 * 1024))
        if path == "/ui/trap":
            raise RuntimeError("hostile handler raised on purpose")
        if path == "/ui/loop":
            n = 0
            while True:
                n += 1
        return h.Response(200, [TEXT], b"fine")
