"""The node's side of a deploy: check a bundle completely, and only then write it.

Every check runs before the first byte is written, so a refused deploy leaves the plugin
folder exactly as it was: the bundle's form, that the node runs the plugin and its
component, that the signature verifies with a key this node trusts, that the world is one
the node knows (and the one the plugin had), that the sequence is newer than the last
accepted, and that the component is the one the manifest names. Then the checksum
sidecar and the component are written (each temp + fsync + rename, sidecar first, so a
folder watcher that sees the component already finds its hash), the manifest recorded,
and the plugin reloaded.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from harvester.build import contract
from harvester.build.errors import BuildError
from harvester.config import NodeConfig
from harvester.node.deploy.bundle import Bundle, Manifest, unpack
from harvester.node.deploy.errors import BundleError, DeployRefused, KeyFileError
from harvester.node.deploy.keys import trusted_keys
from harvester.node.deploy.record import AcceptedDeploys
from harvester.node.reloads import ReloadOutcome
from harvester.node.runner import CommandUnavailable
from harvester.runtime.files import write_atomically

Reload = Callable[[str], Awaitable[ReloadOutcome]]
_WORLD_LINE = re.compile(r"^\s*world\s+([a-z][a-z0-9-]*)\s*\{", re.MULTILINE)


@functools.cache
def known_worlds() -> frozenset[str]:
    """The worlds of the contract this host was built with (wit/worlds.wit)."""
    try:
        text = (contract.wit_dir() / "worlds.wit").read_text(encoding="utf-8")
    except (BuildError, OSError):
        return frozenset()  # no contract: no world is known, every deploy is refused
    return frozenset(_WORLD_LINE.findall(text))


@dataclass(frozen=True)
class Checked:
    manifest: Manifest
    component: bytes
    repeated: bool  # the very deploy accepted last: answered again, not written again


@dataclass(frozen=True)
class Installed:
    manifest: Manifest
    outcome: ReloadOutcome
    repeated: bool


class Installer:
    """Checks and installs bundles for the node of `config`; `reload` is the supervisor's."""

    def __init__(
        self,
        config: NodeConfig,
        *,
        reload: Reload,
        record: AcceptedDeploys | None = None,
        worlds: frozenset[str] | None = None,
    ) -> None:
        self.config = config
        self.node = config.name
        self._reload = reload
        self.record = record or AcceptedDeploys.of(config.state_dir, config.name)
        self._worlds = worlds
        self._lock = asyncio.Lock()  # one deploy at a time: the sequence check and the write

    def component_path(self, plugin: str) -> Path:
        found = next(p for p in self.config.plugins if p.name == plugin)
        return self.config.plugin_dir / f"{found.component_name}.wasm"

    def _refuse(self, reason: str, *, plugin: str, key_id: str = "") -> DeployRefused:
        return DeployRefused(node=self.node, plugin=plugin, key_id=key_id, reason=reason)

    def check(self, raw: bytes, *, plugin: str | None = None) -> Checked:
        """Everything about `raw` that decides whether it may be installed; nothing is
        written. `plugin` is what the bundle arrived for (its topic). Raises DeployRefused."""
        try:
            bundle = unpack(raw)
        except BundleError as exc:
            raise self._refuse(str(exc), plugin=plugin or "") from None
        m = bundle.manifest
        refuse = functools.partial(self._refuse, plugin=m.plugin, key_id=m.key_id)
        if plugin is not None and m.plugin != plugin:
            raise refuse(f"the bundle is for plugin {m.plugin}, but was sent for {plugin}")
        configured = {p.name: p for p in self.config.plugins}
        if m.plugin not in configured:
            runs = ", ".join(sorted(configured)) or "none"
            raise refuse(f"this node does not run plugin {m.plugin} (it runs: {runs})")
        expected = configured[m.plugin].component_name
        if m.component != expected:
            raise refuse(f"the node runs {m.plugin} from {expected}.wasm, not {m.component}.wasm")
        self._check_signature(bundle)
        if self.record.damaged:
            raise refuse(self.record.damaged)
        worlds = self._worlds if self._worlds is not None else known_worlds()
        if m.world not in worlds:
            knows = ", ".join(sorted(worlds))
            raise refuse(f"unknown world {m.world!r} (this node knows: {knows})")
        previous = self.record.get(m.plugin)
        repeated = False
        if previous is not None:
            if m.world != previous.world:
                raise refuse(f"world {m.world!r}, but {m.plugin} runs {previous.world!r}")
            same = m.sequence == previous.sequence and m.sha256 == previous.sha256
            if m.sequence <= previous.sequence and not same:
                raise refuse(
                    f"replayed or older: sequence {m.sequence}, but this node accepted"
                    f" {previous.sequence} (version {previous.version}) already"
                )
            repeated = same
        try:
            component = bundle.component()
        except BundleError as exc:
            raise refuse(str(exc)) from None
        return Checked(m, component, repeated)

    def _check_signature(self, bundle: Bundle) -> None:
        m = bundle.manifest
        refuse = functools.partial(self._refuse, plugin=m.plugin, key_id=m.key_id)
        if not bundle.signature:
            raise refuse("unsigned: the bundle carries no signature")
        try:
            keys = trusted_keys(self.config.deploy)
        except KeyFileError as exc:
            raise refuse(f"this node's trusted keys are unreadable: {exc}") from None
        trusted = keys.get(m.key_id)
        if trusted is None:
            raise refuse(f"key {m.key_id} is not trusted by this node ({len(keys)} keys are)")
        if not bundle.signed_by(trusted.key):
            raise refuse(
                f"the signature does not verify with key {m.key_id}"
                " (the manifest was changed after signing, or another key signed it)"
            )

    async def install(self, raw: bytes, *, plugin: str | None = None) -> Installed:
        """Check `raw`, write it, reload its plugin. Raises DeployRefused (nothing written)."""
        async with self._lock:
            checked = await asyncio.to_thread(self.check, raw, plugin=plugin)
            m = checked.manifest
            if checked.repeated:
                version = m.version
                outcome = ReloadOutcome(m.plugin, "unchanged", version, version, "already applied")
                return Installed(m, outcome, repeated=True)
            kept = await asyncio.to_thread(self._read_current, m.plugin)
            await asyncio.to_thread(self._write, checked)
            try:
                outcome = await self._reload(m.plugin)
            except CommandUnavailable as exc:  # written; it loads when the plugin next starts
                outcome = ReloadOutcome(m.plugin, "refused", "", "", str(exc))
            else:
                if outcome.result != "swapped" and outcome.version != m.version:
                    # Refused (now, or already before): the old version runs on, so the
                    # folder says so again, or the node's next start would load it.
                    await asyncio.to_thread(self._put_back, m.plugin, kept)
            return Installed(m, outcome, repeated=False)

    def _read_current(self, plugin: str) -> tuple[bytes | None, bytes | None]:
        """The component and sidecar in the folder now (None: absent), to put back."""
        path = self.component_path(plugin)
        found: list[bytes | None] = []
        for file in (path, path.with_name(path.name + ".sha256")):
            try:
                found.append(file.read_bytes())
            except FileNotFoundError:
                found.append(None)
        return found[0], found[1]

    def _put_back(self, plugin: str, kept: tuple[bytes | None, bytes | None]) -> None:
        path = self.component_path(plugin)
        component, sidecar = kept
        sidecar_path = path.with_name(path.name + ".sha256")
        if component is not None:  # the component first: its old sidecar may be gone
            sidecar_path.unlink(missing_ok=True)
            write_atomically(path, component)
        if sidecar is not None:
            write_atomically(sidecar_path, sidecar)

    def _write(self, checked: Checked) -> None:
        m = checked.manifest
        path = self.component_path(m.plugin)
        path.parent.mkdir(parents=True, exist_ok=True)
        sidecar = path.with_name(path.name + ".sha256")
        write_atomically(sidecar, f"{m.sha256}  {path.name}\n".encode())
        write_atomically(path, checked.component)
        self.record.accept(m)
