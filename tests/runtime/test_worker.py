"""InstanceThread: calls in one daemon thread; the loop never waits past deadline + grace."""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest

from harvester.runtime.errors import PluginTimeout
from harvester.runtime.worker import InstanceThread, detached


async def run(
    thread: InstanceThread, fn, *, deadline_s=5.0, grace_s=0.05, where=None, gave_up=None
):
    return await thread.run(
        fn, deadline_s=deadline_s, grace_s=grace_s,
        blocked_in=lambda: where, on_abandon=gave_up or (lambda: None),
    )  # fmt: skip


async def test_calls_run_in_order_in_one_daemon_thread() -> None:
    thread = InstanceThread("p")
    seen: list[str] = []
    try:
        for i in range(3):
            await run(thread, lambda i=i: seen.append(f"{i}:{threading.current_thread().name}"))
    finally:
        thread.close()
    assert seen == ["0:plugin-p", "1:plugin-p", "2:plugin-p"]
    await asyncio.to_thread(thread.finished.wait)
    assert thread.finished.is_set()


async def test_an_exception_reaches_the_caller_and_the_thread_serves_on() -> None:
    thread = InstanceThread("p")
    try:
        with pytest.raises(ZeroDivisionError):
            await run(thread, lambda: 1 / 0)
        assert await run(thread, lambda: 42) == 42
    finally:
        thread.close()


async def test_a_call_stuck_in_a_host_call_is_abandoned_at_its_deadline() -> None:
    thread = InstanceThread("p")
    release, cancelled = threading.Event(), threading.Event()
    with pytest.raises(PluginTimeout, match="blocked in host call x#y past its deadline"):
        await run(thread, release.wait, deadline_s=0.05, where="x#y", gave_up=cancelled.set)
    assert thread.abandoned and cancelled.is_set()
    assert not thread.finished.is_set()  # still stuck: nobody waits for it
    release.set()
    await asyncio.to_thread(thread.finished.wait)  # ends by itself once the call returns
    with pytest.raises(RuntimeError, match="abandoned"):
        await run(thread, lambda: None)


async def test_outside_a_host_call_the_epoch_gets_the_grace_first() -> None:
    thread = InstanceThread("p")
    done = threading.Event()

    def finishes_within_the_grace() -> str:
        done.wait(0.1)  # past the 0.05 s deadline, inside the 1 s grace
        return "made it"

    try:
        assert await run(thread, finishes_within_the_grace, deadline_s=0.05, grace_s=1) == (
            "made it"
        )
        assert not thread.abandoned
    finally:
        thread.close()


async def test_a_cancelled_caller_leaves_no_unretrieved_exception(caplog) -> None:
    thread = InstanceThread("p")
    release = threading.Event()

    def fails_late() -> None:
        release.wait()
        raise ValueError("late")

    task = asyncio.create_task(run(thread, fails_late))
    await asyncio.sleep(0)  # let it submit the call
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    thread.close()
    await asyncio.to_thread(thread.finished.wait)
    await asyncio.sleep(0)  # the late outcome reaches the loop and is dropped
    gc.collect()  # asyncio reports an unretrieved exception when the future is collected
    assert "never retrieved" not in caplog.text


async def test_detached_work_runs_in_a_daemon_thread_of_its_own() -> None:
    def where() -> tuple[str, bool]:
        me = threading.current_thread()
        return me.name, me.daemon

    assert await detached(where, name="load-p") == ("plugin-load-p", True)
