"""Hot reload of one plugin: a new version beside the running one, swapped in once it
answers, rolled back if it faults soon after (docs/lifecycle-reload.md).

The runner's own logic, split out of runner.py: a Reloader belongs to one PluginRunner
and works on its live instance, lock and poll cadence.

- A sensor answers by its first poll, and that poll takes the slot of the old version's
  next poll (if it is due within SWAP_ALIGN_S; else it polls at once and the cadence
  starts over from it): no poll is missed or doubled. An actuator or an HTTP handler
  answers by its start (init, and an actuator's list of commands): calling a command
  or serving a request only to test it could move hardware or need a client.
- An error result (`poll failed: hal: ...`) is an answer: the code runs and speaks the
  contract; the hardware said no this time. A fault (trap, timeout, crash) is not.
- The two versions never talk to the hardware at once: the new one's init runs in the
  old one's turn (PluginRunner.start), and its first poll in the old one's poll slot.
- Content that was refused or rolled back is remembered (in memory, by sha256) and not
  loaded again; a file that fails only its sidecar check is not remembered (the sidecar
  may be fixed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from harvester.config import ReloadConfig
from harvester.constants import LogLevel
from harvester.node.live import DRIVABLE, LiveInstance
from harvester.node.reloads import ReloadOutcome, ReloadResult
from harvester.node.versions import FileIdentity, VersionStore, identity, sidecar_problem
from harvester.runtime.errors import PluginFault, PluginLoadError, PluginReportedError
from harvester.runtime.loader import LoadedComponent, load_component
from harvester.runtime.sensor import Metric, PluginReading
from harvester.runtime.worker import detached

if TYPE_CHECKING:
    from harvester.node.runner import PluginRunner

T = TypeVar("T")
log = logging.getLogger("harvester.node")
# A new sensor version's first poll waits for the old version's next poll at most this
# long; a slower cadence (a poll a minute) starts over from the new version's first poll
# rather than hold a deploy for an interval.
SWAP_ALIGN_S = 1.0


@dataclass
class Candidate:
    """A new version, started beside the running one."""

    loaded: LoadedComponent
    live: LiveInstance
    metrics: tuple[Metric, ...]


@dataclass
class _Tick:
    """A reload asking for the sensor's next poll: the poll loop `granted` it, and waits
    to hear whether the new version `took` it (else the old version polls)."""

    granted: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    took: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Reloader:
    def __init__(
        self, runner: PluginRunner, config: ReloadConfig, versions: VersionStore | None
    ) -> None:
        self._runner = runner
        self._config = config
        self._versions = versions
        self.last: ReloadOutcome | None = None  # the latest reload or rollback
        self._refused: dict[str, str] = {}  # sha256 → why: never loaded again
        self._seen: tuple[FileIdentity, str] | None = None  # the file last taken, its sha256
        self._sidecar_said: set[tuple[str, str]] = set()
        self._previous: LoadedComponent | None = None  # what a rollback goes back to
        self._swapped_at: float | None = None
        self._boot_fd: int | None = None  # the file the first version was loaded from
        self._tick: _Tick | None = None
        self._tick_wanted = asyncio.Event()
        self._adopted: Candidate | None = None
        self._wake = asyncio.Event()
        self._at_once = False
        self._reason = ""

    # -- the first version ------------------------------------------------------------------

    async def first_load(self) -> LoadedComponent:
        """Load the component file as it is (the node's start). The file stays open while
        this version runs, so a later swap can keep a copy of its bytes for a rollback.

        Raises PluginLoadError, also for a file that does not match its sidecar.
        """
        runner = self._runner
        path = runner.component_path
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            self._close_boot_fd()
            self._boot_fd = fd
        loaded = await self._load(path)
        if problem := sidecar_problem(path, loaded.digest):
            raise PluginLoadError(runner.name, problem)
        return loaded

    async def _load(self, path: Path) -> LoadedComponent:
        runner = self._runner
        return await detached(
            lambda: load_component(
                runner._engine,
                runner._artifacts,
                path,
                plugin=runner.name,
                grants=runner.config.grants,
                drivable=DRIVABLE,
                report=lambda line: runner.log.host_says(LogLevel.INFO, line),
            ),
            name=f"load-{runner.name}",
        )

    def close(self) -> None:
        self._close_boot_fd()

    def _close_boot_fd(self) -> None:
        if self._boot_fd is not None:
            os.close(self._boot_fd)
            self._boot_fd = None

    # -- a reload -------------------------------------------------------------------------

    async def reload(self) -> ReloadOutcome:
        """Load the component file if its content changed, start it beside the running
        version, and swap it in once it answers; the old version keeps running otherwise.
        Concurrent calls take turns; the second finds the file "unchanged"."""
        async with self._runner.lock:
            outcome = await self._reload()
        self.last = outcome
        return outcome

    async def _reload(self) -> ReloadOutcome:
        runner = self._runner
        began = time.monotonic()
        current = runner._loaded
        before = runner.version
        path = runner.component_path
        if self._versions is None:
            return self._outcome("refused", before, before, "this runner keeps no versions")
        versions = self._versions
        # The file examined last time, untouched since (the watcher's call after a
        # deploy's, a sidecar written): no need to copy and hash 18 MB again.
        seen = self._seen
        with contextlib.suppress(OSError):
            if seen is not None and identity(path.stat()) == seen[0]:
                if current is not None and seen[1] == current.digest:
                    return self._outcome("unchanged", before, before)
                if seen[1] in self._refused:
                    why = f"version {seen[1][:16]} was refused before ({self._refused[seen[1]]})"
                    return self._outcome("unchanged", before, before, why)
        try:
            stored, digest, found = await _off_loop(
                lambda: versions.take(path), f"take-{runner.name}"
            )
        except FileNotFoundError:
            return self._outcome("unchanged", before, before, f"{path.name} is gone")
        except OSError as exc:
            detail = f"cannot read {path}: {exc.strerror or exc}"
            return self._refuse(None, before, detail)
        self._seen = (found, digest)
        version = digest[:16]
        if current is not None and digest == current.digest:
            return self._outcome("unchanged", before, before)
        if digest in self._refused:
            self._forget_copy(digest)
            why = f"version {version} was refused before ({self._refused[digest]})"
            return self._outcome("unchanged", before, before, why)
        if problem := sidecar_problem(path, digest):
            self._forget_copy(digest)
            if (digest, problem) not in self._sidecar_said:
                self._sidecar_said.add((digest, problem))
                runner.log.host_says(LogLevel.ERROR, f"not loaded: {problem}")
            return self._outcome("refused", before, before, problem)
        runner._artifacts.remember(stored, digest)
        try:
            loaded = await self._load(stored)
            live, metrics = await runner.start(loaded, beside=runner.live)
        except PluginLoadError as exc:
            return self._refuse(digest, before, f"does not load: {exc.detail}")
        except PluginReportedError as exc:
            return self._refuse(digest, before, f"init failed: {exc.detail}")
        except PluginFault as exc:
            return self._refuse(digest, before, f"{exc.kind} while starting: {exc.detail}")
        candidate = Candidate(loaded, live, metrics)
        try:
            return await self._try(candidate, before, began)
        except BaseException:
            runner.retire(live.thread)  # a stop: the candidate goes with it
            raise

    async def _try(self, candidate: Candidate, before: str, began: float) -> ReloadOutcome:
        """Have `candidate` answer its first call, then swap it in (or hand it to the run
        loop, if no instance is live); retire it if it does not answer."""
        runner = self._runner
        previous = runner._loaded
        if previous is not None and previous.path == runner.component_path:
            await self._keep_first_version(previous)
        old = runner.live
        sensor = candidate.live.sensor
        tick: _Tick | None = None
        readings: tuple[PluginReading, ...] = ()
        try:
            if sensor is not None:
                if old is not None and old.sensor is not None and runner.state == "running":
                    tick = await self._wait_for_tick(old)
                readings = await self._first_poll(candidate)
            version = candidate.loaded.digest[:16]
            ms = (time.monotonic() - began) * 1000
            old = runner.live
            swapped = False
            if old is not None and tick is None:  # not at a tick: let a call in progress end
                async with old.turn:
                    if swapped := self._can_swap(old):
                        self._hand_over(old, candidate)
            elif old is not None and tick is not None and (swapped := self._can_swap(old)):
                self._hand_over(old, candidate)
                tick.took.set_result(True)  # its poll was this tick's: the old's is not due
            if swapped:
                self._previous = previous
                self._swapped_at = runner._clock.now()
                line = f"swapped to version {version} (was {before or 'none'}) in {ms:.0f} ms"
                runner.log.host_says(LogLevel.INFO, line)
                runner._set_state("running", line)
            else:  # nothing live to swap with: the run loop starts with this one
                runner._metrics = {m.name: m for m in candidate.metrics}
                self._previous = None
                self._swapped_at = None
                self._adopted = candidate
                self._wake.set()
                line = (
                    f"version {version} answered in {ms:.0f} ms; it runs next (was {runner.state})"
                )
                runner.log.host_says(LogLevel.INFO, line)
        except PluginFault as exc:
            runner.retire(candidate.live.thread)
            detail = f"first poll: {exc.kind}: {exc.detail}"
            return self._refuse(candidate.loaded.digest, before, detail)
        finally:
            if tick is not None and not tick.took.done():
                tick.took.set_result(False)  # the old version polls this tick after all
            self._tick = None
            self._tick_wanted.clear()
        if readings:
            runner.publish(readings)
        if self._versions is not None:
            keep = {candidate.loaded.digest} | ({previous.digest} if previous else set())
            versions = self._versions
            await _off_loop(lambda: versions.prune(keep), f"prune-{runner.name}")
        return self._outcome("swapped", version, before, line)

    async def _first_poll(self, candidate: Candidate) -> tuple[PluginReading, ...]:
        """The candidate sensor's first poll. Raises PluginFault if it faults."""
        runner = self._runner
        live = candidate.live
        assert live.sensor is not None
        sensor = live.sensor
        try:
            async with live.turn:
                return await runner.call(live.thread, live.instance, sensor.poll)
        except PluginReportedError as exc:  # an answer all the same (module doc)
            runner.log.host_says(LogLevel.WARN, f"poll failed: {exc.detail}")
            return ()
        finally:
            runner.log.flush()
            runner.polls += 1

    async def _wait_for_tick(self, old: LiveInstance) -> _Tick | None:
        """The old version's next poll slot, or None if it ended (fault, restart) first."""
        tick = self._tick = _Tick()
        self._tick_wanted.set()
        waits: list[asyncio.Future[Any]] = [tick.granted, old.fault, old.replace, old.retired]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if tick.granted.done():
            return tick
        self._tick = None
        self._tick_wanted.clear()
        return None

    def _can_swap(self, old: LiveInstance) -> bool:
        """Whether `old` is still the healthy live instance a new version may replace."""
        return self._runner.live is old and not old.ended and self._runner.state == "running"

    def _hand_over(self, old: LiveInstance, candidate: Candidate) -> None:
        runner = self._runner
        runner.live = candidate.live
        runner._loaded = candidate.loaded
        runner._metrics = {m.name: m for m in candidate.metrics}
        runner.faults.clear()  # the new version starts with a clean record
        runner.swaps += 1
        old.retired.set_result(None)
        runner.retire(old.thread)

    async def _keep_first_version(self, first: LoadedComponent) -> None:
        """Copy the version loaded at the start into the store (from the file it was loaded
        from, still open), so a rollback can put it back in the plugin folder."""
        fd, versions = self._boot_fd, self._versions
        if fd is None or versions is None:
            return
        kept = await _off_loop(lambda: versions.keep(fd, first.digest), "keep")
        self._close_boot_fd()
        if not kept:
            self._runner.log.host_says(
                LogLevel.WARN,
                f"no copy of version {first.digest[:16]} kept: its file was overwritten in"
                " place since it was loaded; a rollback restores it in memory only",
            )

    def _refuse(self, digest: str | None, before: str, detail: str) -> ReloadOutcome:
        runner = self._runner
        version = digest[:16] if digest else "?"
        if digest is not None:
            self._refused[digest] = detail
            self._forget_copy(digest)
        keeps = f"version {before} keeps running" if before else "nothing else runs"
        line = f"version {version} refused: {detail}; {keeps}"
        runner.log.host_says(LogLevel.ERROR, line)
        runner._set_state(runner.state, line)  # published, so the hub shows it
        return self._outcome("refused", before, before, detail)

    def _forget_copy(self, digest: str) -> None:
        """Delete the store's copy of a version that will not run (best effort)."""
        runner = self._runner
        keep = {v.digest for v in (runner._loaded, self._previous) if v is not None}
        if self._versions is not None and digest not in keep:
            self._versions.path(digest).unlink(missing_ok=True)

    def _outcome(
        self, result: ReloadResult, version: str, previous: str, detail: str = ""
    ) -> ReloadOutcome:
        return ReloadOutcome(self._runner.name, result, version, previous, detail)

    # -- the run loop's side ---------------------------------------------------------------

    @property
    def waiting(self) -> bool:
        """A new version answered while nothing was live: the run loop starts it next."""
        return self._adopted is not None

    def take_adopted(self) -> Candidate | None:
        candidate, self._adopted = self._adopted, None
        return candidate

    def running_reason(self) -> str:
        reason, self._reason = self._reason, ""
        return reason

    def consume_at_once(self) -> bool:
        at_once, self._at_once = self._at_once, False
        return at_once

    async def instead_of_restart(self, fault: PluginFault, now: float) -> bool:
        """After a fault (under the runner's lock): True if the run loop should start at
        once instead of backing off: a new version is waiting, or this one was swapped in
        lately and faulted too often, so the previous one is back."""
        if self._adopted is not None:
            self._at_once = True
            return True
        previous, swapped_at = self._previous, self._swapped_at
        if previous is None or swapped_at is None:
            return False
        since = now - swapped_at
        if since > self._config.rollback_window_s:
            self._previous = None  # past the window: this version stays
            return False
        faults = sum(1 for t in self._runner.faults if t >= swapped_at)
        if faults < self._config.rollback_faults:
            return False
        await self._roll_back(previous, faults, since, fault)
        self._at_once = True
        return True

    async def _roll_back(
        self, previous: LoadedComponent, faults: int, since: float, fault: PluginFault
    ) -> None:
        runner = self._runner
        bad = runner._loaded
        assert bad is not None
        good, worse = previous.digest[:16], bad.digest[:16]
        detail = f"version {worse} faulted {faults} times in {since:.1f} s after the swap"
        self._refused[bad.digest] = f"rolled back: {detail}; last: {fault.kind}: {fault.detail}"
        runner._loaded = previous
        self._previous = None
        self._swapped_at = None
        runner.faults.clear()
        note = ""
        versions = self._versions
        if versions is not None:
            try:
                await _off_loop(
                    lambda: versions.restore(previous.digest, runner.component_path), "restore"
                )
                versions.path(bad.digest).unlink(missing_ok=True)
            except OSError as exc:
                note = f" (the plugin folder still holds {worse}: {exc})"
        line = f"rolled back to {good}: {detail}{note}"
        runner.log.host_says(LogLevel.ERROR, line)
        self._reason = line
        self.last = self._outcome("rolled-back", good, worse, line)

    async def pause(self, seconds: float) -> None:
        """The back-off pause, cut short when a reload hands over a new version."""
        if self._adopted is not None:
            return
        self._wake.clear()
        sleep = asyncio.ensure_future(self._runner._clock.sleep(seconds))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait([sleep, woken], return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleep.cancel()
            woken.cancel()

    async def pause_until(self, at: float) -> float:
        """Wait for the poll due `at`; returns when it is due: `at`, or now if a reload
        wants a tick and `at` is further away than SWAP_ALIGN_S."""
        clock = self._runner._clock
        delay = at - clock.now()
        if delay <= SWAP_ALIGN_S:
            await clock.sleep(delay)  # a reload arriving meanwhile waits for this tick
            return at
        sleep = asyncio.ensure_future(clock.sleep(delay))
        wanted = asyncio.ensure_future(self._tick_wanted.wait())
        try:
            await asyncio.wait([sleep, wanted], return_when=asyncio.FIRST_COMPLETED)
            if sleep.done() or at - clock.now() <= SWAP_ALIGN_S:
                await sleep
                return at
            return clock.now()
        finally:
            sleep.cancel()
            wanted.cancel()

    async def give_tick(self) -> bool:
        """Give this poll to a reload's new version if one asks: True if it took it (it
        is live now), False if the live version is to poll."""
        tick = self._tick
        if tick is None or tick.granted.done():
            return False
        self._tick_wanted.clear()
        tick.granted.set_result(None)
        return await asyncio.shield(tick.took)


async def _off_loop(fn: Callable[[], T], name: str) -> T:
    """Blocking file work (copying and hashing 18 MB) in a thread of its own."""
    return await detached(fn, name=name)
