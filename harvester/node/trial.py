"""A plugin on the dev bench: built, run sandboxed in a simulated node, and tried.

What `harvester plugin test` runs and what the test `harvester plugin new` writes calls:
the plugin is built from its folder (cached by content hash), started by a real
Supervisor with real wasmtime under the grants of its `[dev]` table (or of a node
config's entry for it), against the simulated devices of that table (or the node's
backend, or a recording replayed), and then polled N times (a sensor), asked its
commands (an actuator) or sent requests (an HTTP handler). The verdict: it started, and
every poll, command and request was answered; the first fault ends the trial.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harvester.build import BuildResult, build_plugin, load_manifest
from harvester.build.dev_bench import DevTable, reference_bench
from harvester.build.user_cache import (
    default_artifact_cache,
    default_build_cache,
    user_cache_dir,
)
from harvester.build.worlds import contract_worlds
from harvester.config import NodeConfig, PluginConfig
from harvester.hal import Backend, make_backend
from harvester.hal.tap import read_recording, replay_backend
from harvester.node.events import (
    Event,
    EventBus,
    LogEvent,
    Reading,
    ReadingsEvent,
    StateEvent,
    Subscription,
)
from harvester.node.supervisor import Supervisor
from harvester.runtime.actuator import ArgValue
from harvester.runtime.errors import PluginError
from harvester.runtime.http import HttpRequest, HttpResponse
from harvester.runtime.sensor import Metric

TRIAL_NODE = "bench"
START_TIMEOUT_S = 300.0  # a first start may build (~12-40 s) and precompile (~7 s)
_CHECK_S = 0.2  # how often the trial looks at the runner between events
_POLL_FAILED = "poll failed: "  # the runner's warning for a poll that returned an error


@dataclass
class Trial:
    """What a plugin did on the bench. `ok` is the verdict; `problem` says why not."""

    plugin: str
    build: BuildResult
    backend: str
    wanted_polls: int = 0
    started: bool = False
    kind: str = ""
    metrics: tuple[Metric, ...] = ()
    commands: tuple[str, ...] = ()  # an actuator's, as it described them
    polls: list[tuple[Reading, ...]] = field(default_factory=list)
    polls_done: int = 0
    failed_polls: list[str] = field(default_factory=list)
    answers: list[dict[str, ArgValue]] = field(default_factory=list)
    responses: list[HttpResponse] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)  # the path of each response
    logs: list[LogEvent] = field(default_factory=list)
    fault: str | None = None
    missed: list[str] = field(default_factory=list)  # calls a replayed recording lacks

    @property
    def problem(self) -> str | None:
        if not self.started:
            return f"{self.plugin} did not start: {self.fault or 'gave up waiting'}"
        if self.fault is not None:
            return f"{self.plugin} faulted: {self.fault}"
        if self.failed_polls:
            return f"{len(self.failed_polls)} polls failed; first: {self.failed_polls[0]}"
        if self.missed:
            return f"the recording has no answer for: {self.missed[0]}"
        if self.kind == "sensor" and self.polls_done < self.wanted_polls:
            return f"{self.polls_done} of {self.wanted_polls} polls answered"
        return None  # an HTTP status is the plugin's answer (on the bench, hub-data is away)

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def values(self) -> list[dict[str, float]]:
        """Each poll's readings as {metric: value}."""
        return [{r.metric: r.value for r in poll} for poll in self.polls]

    @property
    def last(self) -> dict[str, float]:
        """The last poll's readings as {metric: value} (empty without any)."""
        return self.values[-1] if self.polls else {}


def bench_config(dev: DevTable, *, name: str, out_dir: Path, artifacts: Path) -> NodeConfig:
    """A one-plugin sim node for `dev` (a hub when it grants hub_data, which needs one)."""
    plugin = PluginConfig(
        name=name,
        poll_interval_s=dev.poll_interval_s,
        limits=dev.limits,
        grants=dev.grants,
        settings=dev.settings,
    )
    return NodeConfig(
        name=TRIAL_NODE,
        role="hub" if dev.grants.hub_data else "spoke",
        backend="sim",
        plugin_dir=out_dir,
        cache_dir=artifacts,
        sim=dev.sim,
        plugins=(plugin,),
        state_dir=out_dir / "state",
    )


def _from_node(config: NodeConfig, plugin: str, out_dir: Path) -> NodeConfig:
    """`config` running only its entry for `plugin` (by name or component), from `out_dir`.

    Raises LookupError naming the plugins it has when it has none for `plugin`.
    """
    entry = next((p for p in config.plugins if plugin in (p.name, p.component_name)), None)
    if entry is None:
        known = ", ".join(p.name for p in config.plugins) or "none"
        raise LookupError(f"node {config.name!r} has no plugin {plugin!r} (it has: {known})")
    entry = entry.model_copy(update={"component": plugin, "record": None, "replay": None})
    alone = {
        "plugins": (entry,),
        "plugin_dir": out_dir,
        "mesh": None,
        "native": config.native.model_copy(update={"monitor": False}),
    }
    return config.model_copy(update=alone)


async def trial(
    folder: Path,
    *,
    polls: int = 3,
    calls: Sequence[tuple[str, dict[str, ArgValue]]] = (),
    requests: Sequence[str] = ("/",),
    node: NodeConfig | None = None,
    replay: Path | None = None,
    out_dir: Path | None = None,
    build_cache: Path | None = None,
    artifacts: Path | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> Trial:
    """Build the plugin in `folder` and try it (see the module docstring).

    Raises BuildError (ManifestError among them) when it does not build, LookupError when
    `node` has no entry for it, and RecordingError for an unreadable `replay` file.
    """
    manifest = load_manifest(folder)
    out_dir = out_dir or user_cache_dir() / "bench"
    built = await asyncio.to_thread(
        build_plugin, folder, out_dir=out_dir, cache_dir=build_cache or default_build_cache()
    )
    if node is not None:
        config = _from_node(node, manifest.name, out_dir)
    else:
        world = contract_worlds().get(manifest.world)
        dev = manifest.dev or (reference_bench(world) if world else DevTable())
        config = bench_config(
            dev,
            name=manifest.name,
            out_dir=out_dir,
            artifacts=artifacts or default_artifact_cache(),
        )
    result = Trial(manifest.name, built, "replay" if replay else config.backend, polls)
    backend: Backend
    if replay is not None:
        backend, _ = replay_backend(read_recording(replay), on_miss=result.missed.append)
    else:
        backend = make_backend(config)
    try:
        await _drive(config, backend, result, calls=calls, requests=requests, on_event=on_event)
    finally:
        backend.close()
    return result


async def _drive(
    config: NodeConfig,
    backend: Backend,
    result: Trial,
    *,
    calls: Sequence[tuple[str, dict[str, ArgValue]]],
    requests: Sequence[str],
    on_event: Callable[[Event], None] | None,
) -> None:
    bus = EventBus(config.name)
    name = config.plugins[0].name

    def seen(event: Event) -> None:
        if on_event is not None:
            on_event(event)
        if isinstance(event, ReadingsEvent):
            result.polls.append(event.readings)
        elif isinstance(event, LogEvent):
            result.logs.append(event)
            if event.origin == "host" and event.message.startswith(_POLL_FAILED):
                result.failed_polls.append(event.message.removeprefix(_POLL_FAILED))
        elif isinstance(event, StateEvent) and event.state in ("backoff", "quarantined"):
            result.fault = result.fault or event.reason

    async with bus.subscribe() as events:
        async with Supervisor(config, backend=backend, bus=bus) as sup:
            await _watch(sup, name, events, result, calls=calls, requests=requests, seen=seen)
        while not events.empty():  # what the stop itself said
            seen(events.get_nowait())
    if result.kind == "sensor":
        del result.polls[result.wanted_polls :]


async def _watch(
    sup: Supervisor,
    name: str,
    events: Subscription,
    result: Trial,
    *,
    calls: Sequence[tuple[str, dict[str, ArgValue]]],
    requests: Sequence[str],
    seen: Callable[[Event], None],
) -> None:
    """Follow the plugin's events until it has answered what the trial asks, faulted,
    or START_TIMEOUT_S passed."""
    runner = sup.runners[name]
    deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
    asked = False

    def finished() -> bool:
        if result.fault is not None or result.missed:
            return True
        if runner.state != "running" or runner.live is None:
            return False
        result.started = True
        live = runner.live
        result.kind = "sensor" if live.sensor else "actuator" if live.actuator else "http"
        result.metrics = runner.metrics
        result.commands = tuple(sorted(runner.commands))
        return asked or (result.kind == "sensor" and runner.polls >= result.wanted_polls)

    while not finished():
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            break
        try:
            seen(await asyncio.wait_for(events.get(), min(_CHECK_S, remaining)))
        except TimeoutError:
            pass
        if result.started and result.kind != "sensor" and not asked:
            await _ask(sup, name, result, calls=calls, requests=requests)
            asked = True
    # The runner may be a poll past the count when this loop looks: count what was asked.
    result.polls_done = max(0, min(runner.polls, result.wanted_polls) - len(result.failed_polls))


async def _ask(
    sup: Supervisor,
    name: str,
    result: Trial,
    *,
    calls: Sequence[tuple[str, dict[str, ArgValue]]],
    requests: Sequence[str],
) -> None:
    """An actuator's commands or an HTTP handler's requests, in order; the first that
    fails is the trial's fault."""
    try:
        if result.kind == "actuator":
            for command, arguments in calls:
                result.answers.append(await sup.command(name, command, arguments))
        else:
            for path in requests:
                request = HttpRequest("GET", path, "", (), b"")
                result.responses.append(await sup.handle_http(name, request))
                result.requested.append(path)
    except PluginError as exc:
        result.fault = str(exc)


def run_trial(folder: Path | str, **options: object) -> Trial:
    """`trial` from synchronous code (a plugin's own pytest file). Same options."""
    return asyncio.run(trial(Path(folder), **options))  # type: ignore[arg-type]
