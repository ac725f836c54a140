"""The build subsystem's errors: one root, `BuildError`, with a subclass per cause."""

from __future__ import annotations

from pathlib import Path


class BuildError(Exception):
    """A plugin could not be built. The message says which plugin or tool, and why."""


class ManifestError(BuildError):
    """A plugin folder has no usable `plugin.toml`; the message names the file and key."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class ComponentizeError(BuildError):
    """componentize-py failed or timed out on one plugin; `output` is what it printed."""

    def __init__(self, plugin: str, problem: str, output: str = "") -> None:
        super().__init__(f"{plugin}: {problem}" + (f":\n{output}" if output else ""))
        self.plugin = plugin
        self.output = output


class ToolMissing(BuildError):
    """A build tool is not installed; the message is one line that says how to install it."""

    def __init__(self, tool: str, install: str) -> None:
        super().__init__(f"{tool} is not installed, and building plugins needs it: {install}")
        self.tool = tool
