"""auth.Auth's rules that need a clock: session expiry and login throttling."""

from __future__ import annotations

from types import SimpleNamespace

from harvester.web.auth import FAILURE_WINDOW_S, FAILURES, Auth


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_failed_logins_are_throttled_per_address_until_they_age_out() -> None:
    clock = Clock()
    auth = Auth("t" * 32, read_access="open", session_hours=1, clock=clock)
    for _ in range(FAILURES - 1):
        auth.failed("10.0.0.1")
    assert auth.throttled("10.0.0.1") is None
    auth.failed("10.0.0.1")
    wait = auth.throttled("10.0.0.1")
    assert wait is not None and 0 < wait <= FAILURE_WINDOW_S
    assert auth.throttled("10.0.0.2") is None  # another address is not held up
    clock.now += FAILURE_WINDOW_S + 1
    assert auth.throttled("10.0.0.1") is None


def test_sessions_expire_on_the_server() -> None:
    clock = Clock()
    auth = Auth("t" * 32, read_access="token", session_hours=2, clock=clock)
    sid, session = auth.login()
    assert session.expires_at == clock.now + 7200
    assert auth._sessions[sid] is session
    other, _ = auth.login()
    assert other != sid and len(sid) >= 40

    request = SimpleNamespace(cookies={"harvester_session": sid})  # what Auth.session reads
    assert auth.session(request) is session  # type: ignore[arg-type]
    clock.now += 7200
    assert auth.session(request) is None  # type: ignore[arg-type]
    assert sid not in auth._sessions
