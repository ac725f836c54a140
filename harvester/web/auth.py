"""Who may do what on the hub's web server.

- Writes (every POST/PUT/PATCH/DELETE under /api except /api/login) need the bearer token,
  or the login session cookie AND its CSRF token in `X-CSRF-Token`.
- Reads are open, or with `read_access = "token"` need the bearer or the session cookie:
  every GET under /api except OPEN_PATHS, /metrics, and the UI pages (`/`, `/ui/...`).
- Anything cross-site is refused 403 before credentials are looked at: an unsafe method
  whose `Origin` is not this server's, or a request marked `Sec-Fetch-Site: cross-site`
  (except a GET of a UI page: a link to the dashboard from elsewhere still opens it).

Sessions are kept in memory (a hub restart logs everyone out): a random id in an HttpOnly,
SameSite=Strict cookie, expiring on the server after `session_hours`. Tokens are compared
in constant time. Failed logins are throttled per client address.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Literal

from aiohttp import web

from harvester.web.params import error

COOKIE: Final = "harvester_session"
CSRF_HEADER: Final = "X-CSRF-Token"
METRICS_PATH: Final = "/metrics"
OPEN_PATHS: Final = frozenset({"/api/health", "/api/openapi.json", "/api/session", "/api/login"})
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_SESSIONS: Final = 256
FAILURES: Final = 5  # failed logins per address ...
FAILURE_WINDOW_S: Final = 60.0  # ... within this long, then 429 until the oldest ages out

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Session:
    csrf: str
    expires_at: float


def is_ui_path(path: str) -> bool:
    return path == "/" or path == "/ui" or path.startswith("/ui/")


class Auth:
    """The hub's token (None: writes are off), read access and sessions."""

    def __init__(
        self,
        token: str | None,
        *,
        read_access: Literal["open", "token"],
        session_hours: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.read_access = read_access
        self.session_s = session_hours * 3600
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._failures: dict[str, deque[float]] = {}

    # -- credentials -----------------------------------------------------------------

    def token_matches(self, given: str) -> bool:
        if self.token is None:
            return False
        return hmac.compare_digest(given.encode(), self.token.encode())

    def bearer(self, request: web.Request) -> str | None:
        """The bearer token given, or None; 401 for an Authorization of another kind."""
        given = request.headers.get("Authorization")
        if given is None:
            return None
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise unauthorised("needs Authorization: Bearer <token>")
        return value.strip()

    def session(self, request: web.Request) -> Session | None:
        """The request's live session, if its cookie names one."""
        sid = request.cookies.get(COOKIE)
        if not sid:
            return None
        found = self._sessions.get(sid)
        if found is None:
            return None
        if found.expires_at <= self._clock():
            del self._sessions[sid]
            return None
        return found

    def authenticated(self, request: web.Request) -> bool:
        """A right bearer or a live session (a wrong bearer is a 403, not False)."""
        given = self.bearer(request)
        if given is not None:
            if not self.token_matches(given):
                raise forbidden("wrong token")
            return True
        return self.session(request) is not None

    # -- the checks ------------------------------------------------------------------

    def check_read(self, request: web.Request) -> None:
        if self.read_access == "open":
            return
        if not self.authenticated(request):
            raise unauthorised("reads need Authorization: Bearer <token> or a login session")

    def check_write(self, request: web.Request) -> None:
        if self.token is None:
            raise forbidden("writes are off: the hub has no web token_file")
        given = self.bearer(request)
        if given is not None:
            if not self.token_matches(given):
                raise forbidden("wrong token")
            return
        session = self.session(request)
        if session is None:
            raise unauthorised("needs Authorization: Bearer <token> or a login session")
        csrf = request.headers.get(CSRF_HEADER)
        if csrf is None:
            raise forbidden(f"a session's writes need the {CSRF_HEADER} header")
        if not hmac.compare_digest(csrf.encode(), session.csrf.encode()):
            raise forbidden(f"wrong {CSRF_HEADER}")

    # -- sessions --------------------------------------------------------------------

    def throttled(self, address: str) -> float | None:
        """Seconds until `address` may try to log in again, or None."""
        now = self._clock()
        failures = self._failures.get(address)
        if failures is None:
            return None
        while failures and failures[0] <= now - FAILURE_WINDOW_S:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        if len(failures) < FAILURES:
            return None
        return failures[0] + FAILURE_WINDOW_S - now

    def failed(self, address: str) -> None:
        if len(self._failures) > 10_000:  # many addresses: forget them rather than grow
            self._failures.clear()
        self._failures.setdefault(address, deque(maxlen=FAILURES)).append(self._clock())

    def login(self) -> tuple[str, Session]:
        """A new session: (its id for the cookie, the session)."""
        while len(self._sessions) >= MAX_SESSIONS:
            self._sessions.popitem(last=False)  # the oldest goes
        sid = secrets.token_urlsafe(32)
        session = Session(secrets.token_urlsafe(32), self._clock() + self.session_s)
        self._sessions[sid] = session
        return sid, session

    def logout(self, request: web.Request) -> None:
        sid = request.cookies.get(COOKIE)
        if sid:
            self._sessions.pop(sid, None)


def unauthorised(message: str) -> web.HTTPException:
    return error(web.HTTPUnauthorized, message, headers={"WWW-Authenticate": "Bearer"})


def forbidden(message: str) -> web.HTTPException:
    return error(web.HTTPForbidden, message)


def cross_site(request: web.Request) -> str | None:
    """Why the request is cross-site, or None. Following a link to the dashboard from
    another site (a GET of a UI page) is not refused: it reads nothing for that site."""
    fetch_site = request.headers.get("Sec-Fetch-Site", "").lower()
    if fetch_site == "cross-site" and not (
        request.method in SAFE_METHODS and is_ui_path(request.path)
    ):
        return "Sec-Fetch-Site: cross-site"
    origin = request.headers.get("Origin")
    if origin is not None and request.method not in SAFE_METHODS:
        own = f"{request.scheme}://{request.host}"
        if origin.lower() != own.lower():
            return f"Origin {origin[:100]!r} is not this server ({own})"
    return None


AUTH: web.AppKey[Auth] = web.AppKey("auth", Auth)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The rules above for /api/..., /metrics and the UI paths (whichever routes serve
    them); other paths are left as they are."""
    path = request.path
    api, ui = path == "/api" or path.startswith("/api/"), is_ui_path(path)
    # /metrics is a read like any other: with read_access = "token", Prometheus sends the
    # bearer token (its scrape config's `authorization`).
    if not api and not ui and path != METRICS_PATH:
        return await handler(request)
    why = cross_site(request)
    if why is not None:
        raise forbidden(f"cross-site request refused: {why}")
    auth = request.config_dict[AUTH]  # also from a sub-application's routes
    if request.method not in SAFE_METHODS and api:
        if path != "/api/login":
            auth.check_write(request)
    elif path not in OPEN_PATHS:
        auth.check_read(request)
    return await handler(request)
