"""Errors of the plugin runtime. wasmtime's own errors are converted where they enter."""

from __future__ import annotations


class PluginError(Exception):
    """Root of everything that can go wrong with a plugin.

    `plugin` names the plugin instance (from the node config) the error belongs to.
    """

    def __init__(self, plugin: str, message: str) -> None:
        super().__init__(f"plugin {plugin!r}: {message}")
        self.plugin = plugin
        self.detail = message


class PluginLoadError(PluginError):
    """The component could not be built, precompiled, loaded or linked."""


class PluginFault(PluginError):
    """The instance is unusable and must be replaced (trap, timeout, out of memory, ...)."""

    kind = "fault"


class PluginTrap(PluginFault):
    """The guest trapped (an uncaught exception, `unreachable`, stack overflow, ...)."""

    kind = "trap"


class PluginTimeout(PluginFault):
    """A call ran past its deadline and was interrupted."""

    kind = "timeout"


class PluginOutOfMemory(PluginFault):
    """The guest hit its memory limit."""

    kind = "out-of-memory"


class PluginCrashed(PluginFault):
    """The guest reported an unexpected exception of its own (sensor-error `internal`)."""

    kind = "internal-error"


class PluginContractError(PluginFault):
    """The guest returned something the contract forbids (e.g. a malformed metric)."""

    kind = "contract"


class HostError(PluginFault):
    """Something failed on the host's side of a plugin call, outside wasm (a converter, a
    backend, the runner itself): still only this plugin's fault."""

    kind = "host-error"


class PluginReportedError(PluginError):
    """The guest returned an expected error (hardware, no device, bad data, bad setting).

    The instance stays healthy; the poll simply has no readings.
    """

    def __init__(self, plugin: str, kind: str, message: str) -> None:
        super().__init__(plugin, f"{kind}: {message}")
        self.kind = kind
