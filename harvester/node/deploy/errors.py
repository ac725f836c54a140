"""Why a deploy was not taken: one exception, carrying who and what, for the node's log,
its answer to the hub, and the operator's screen."""

from __future__ import annotations


class BundleError(ValueError):
    """Bytes that are not a well-formed deploy bundle (before any trust is decided)."""


class KeyFileError(ValueError):
    """A key file or key line that cannot be read; the message names the file or line."""


class DeployRefused(Exception):
    """A node refused a deploy; nothing on its disk changed.

    `reason` is one line for the operator; `plugin`, `node` and `key_id` name what the
    bundle claimed (empty where the bundle was too broken to say)."""

    def __init__(self, *, node: str, plugin: str, key_id: str, reason: str) -> None:
        self.node = node
        self.plugin = plugin
        self.key_id = key_id
        self.reason = reason
        key = f" (key {key_id})" if key_id else ""
        super().__init__(f"node {node}: deploy of plugin {plugin or '?'}{key} refused: {reason}")
