"""A plugin instance's own thread, which the event loop can stop waiting for.

A guest call blocks its thread (wasm runs there with the GIL released). Within wasm the
epoch deadline stops it; inside a host call nothing can (a thread blocked in native code
cannot be killed from Python). So the loop never waits for a call longer than its
deadline plus a grace: past that the call is *abandoned*: the caller gets PluginTimeout
at once, the instance's deadline is cancelled (its waits end, its further host calls
trap, its wasm is interrupted as soon as it runs again) and the thread, a daemon, ends by
itself whenever the host call it is stuck in returns. Nothing ever joins it.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from harvester.runtime.errors import PluginTimeout

T = TypeVar("T")
_STOP = object()


class InstanceThread:
    """Runs the calls given to `run` one after another, in one daemon thread."""

    def __init__(self, plugin: str) -> None:
        self.plugin = plugin
        self.abandoned = False
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"plugin-{plugin}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            while (job := self._jobs.get()) is not _STOP:
                fn, loop, future = job
                try:
                    outcome: tuple[bool, Any] = (True, fn())
                except BaseException as exc:  # the caller decides what it means
                    outcome = (False, exc)
                _settle(loop, future, outcome)
                del job, fn, outcome  # drop the instance with the last reference to it
        finally:
            self.finished.set()

    async def run(
        self,
        fn: Callable[[], T],
        *,
        deadline_s: float | None,
        grace_s: float,
        blocked_in: Callable[[], str | None],
        on_abandon: Callable[[], None],
    ) -> T:
        """`fn()` in this thread; its result or exception.

        If it has not returned after `deadline_s` (None: no deadline), it is abandoned: at once if
        `blocked_in()` names a host call it is stuck in (the epoch cannot reach it
        there), else after a further `grace_s` in which the epoch may still stop it. Then
        `on_abandon()` runs (it should cancel the instance's deadline), the thread is left
        to finish alone, and PluginTimeout is raised.
        """
        if self.abandoned:
            raise RuntimeError(f"plugin {self.plugin!r}: its thread was abandoned")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((fn, loop, future))
        # wait() does not cancel `future` on a timeout; we cancel it when we give up, and a
        # late outcome then finds it done and is dropped.
        try:
            done, _ = await asyncio.wait([future], timeout=deadline_s)
            where = blocked_in()
            if not done and where is None:
                done, _ = await asyncio.wait([future], timeout=grace_s)
                where = blocked_in()
        except BaseException:  # the caller was cancelled (a stopping node): nobody wants it
            _forget(future)
            raise
        if done:
            return future.result()
        _forget(future)
        self.abandon(on_abandon)
        place = f"in host call {where}" if where else "outside wasm (the epoch could not stop it)"
        raise PluginTimeout(
            self.plugin,
            f"blocked {place} past its deadline; its thread was abandoned",
        )

    def abandon(self, on_abandon: Callable[[], None]) -> None:
        """Stop serving: the current call (if any) finishes alone, no other runs."""
        self.abandoned = True
        on_abandon()
        self.close()

    def close(self) -> None:
        """Let the thread end after the call it is in, if any."""
        self._jobs.put(_STOP)


async def detached(fn: Callable[[], T], *, name: str) -> T:
    """`fn()` in a daemon thread of its own; for host work that may take long (hashing,
    waiting for a compile) and must never hold up a stop: asyncio's default executor
    threads are joined when the loop shuts down, a daemon thread is not."""
    thread = InstanceThread(name)
    try:
        return await thread.run(
            fn, deadline_s=None, grace_s=0, blocked_in=lambda: None, on_abandon=_nothing
        )
    finally:
        thread.close()


def _nothing() -> None:
    pass


def _forget(future: asyncio.Future[Any]) -> None:
    """Nobody will read this call's outcome: cancel it, or read it if it is already in, so
    asyncio does not report an exception that was never retrieved."""
    if not future.done():
        future.cancel()  # a late outcome then finds it done and is dropped
    elif not future.cancelled():
        future.exception()


def _settle(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], outcome: tuple[bool, Any]
) -> None:
    """Hand a call's outcome to the loop that waits for it, if anyone still does."""

    def settle() -> None:
        if future.done():  # the caller gave up (timeout or cancellation)
            return
        ok, value = outcome
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:
        pass  # the loop is closed: nobody is waiting
