"""Signed deploys on the node: a good bundle is written and reloaded; every bad one is
refused with a reason naming plugin, node and key, and the plugin folder stays byte for
byte as it was."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from harvester.config.model import DeployConfig, NodeConfig, PluginConfig
from harvester.node.deploy import (
    AcceptedDeploys,
    DeployRefused,
    Installer,
    compress,
    generate,
    key_id,
    pack,
    public_line,
    sign,
    unpack,
    write_key_pair,
)
from harvester.node.deploy.keys import load_private, trusted_keys
from harvester.node.reloads import ReloadOutcome

WORLD = "bme680-plugin"
OLD = b"\0asm old " + random.Random(1).randbytes(20_000)
NEW = b"\0asm new " + random.Random(2).randbytes(20_000)


class Reloads:
    def __init__(self, result: str = "swapped") -> None:
        self.calls: list[str] = []
        self.result = result

    async def __call__(self, plugin: str) -> ReloadOutcome:
        self.calls.append(plugin)
        if self.result == "refused":
            return ReloadOutcome(plugin, "refused", "old", "old", "init failed")
        if self.result == "refused before":
            return ReloadOutcome(plugin, "unchanged", "old", "old", "was refused before")
        return ReloadOutcome(plugin, "swapped", "new", "old")


@pytest.fixture
def key():  # type: ignore[no-untyped-def]
    return generate()


@pytest.fixture
def node(tmp_path: Path, key) -> NodeConfig:  # type: ignore[no-untyped-def]
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "bme680.wasm").write_bytes(OLD)
    (plugins / "dht22.wasm").write_bytes(b"\0asm dht22")
    return NodeConfig(
        name="pi4",
        plugin_dir=plugins,
        state_dir=tmp_path / "state",
        plugins=(PluginConfig(name="bme680"), PluginConfig(name="dht22")),
        deploy=DeployConfig(trusted_keys=(public_line(key.public_key()),)),
    )


def folder_hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def bundle(key, component: bytes = NEW, **kw) -> bytes:  # type: ignore[no-untyped-def]
    args = {"plugin": "bme680", "component_name": "bme680", "world": WORLD, **kw}
    return sign(component, key, **args)


async def test_a_signed_bundle_is_written_with_its_hash_and_reloaded(node, key) -> None:  # type: ignore[no-untyped-def]
    reloads = Reloads()
    installer = Installer(node, reload=reloads)
    done = await installer.install(bundle(key, sequence=5), plugin="bme680")
    assert reloads.calls == ["bme680"]
    assert (node.plugin_dir / "bme680.wasm").read_bytes() == NEW
    digest = hashlib.sha256(NEW).hexdigest()
    assert (node.plugin_dir / "bme680.wasm.sha256").read_text() == f"{digest}  bme680.wasm\n"
    assert done.manifest.sequence == 5 and done.manifest.key_id == key_id(key.public_key())
    # the record survives: a fresh installer (a restarted node) knows the sequence
    record = AcceptedDeploys.of(node.state_dir, "pi4")
    assert record.running("bme680", digest[:16]) == done.manifest
    assert json.loads(record.path.read_text())["plugins"]["bme680"]["sequence"] == 5


async def test_a_version_that_does_not_start_is_taken_out_of_the_folder_again(node, key) -> None:  # type: ignore[no-untyped-def]
    """The old version runs on, so the folder holds it again: else the node's next start
    would load the refused one."""
    before = folder_hashes(node.plugin_dir)
    reloads = Reloads("refused")
    done = await Installer(node, reload=reloads).install(bundle(key, sequence=6))
    assert reloads.calls == ["bme680"]  # it was written and tried
    assert done.outcome.result == "refused"
    assert folder_hashes(node.plugin_dir) == before


async def test_a_version_refused_before_is_taken_out_of_the_folder_too(node, key) -> None:  # type: ignore[no-untyped-def]
    before = folder_hashes(node.plugin_dir)
    done = await Installer(node, reload=Reloads("refused before")).install(bundle(key, sequence=6))
    assert done.outcome.result == "unchanged" and done.outcome.version != done.manifest.version
    assert folder_hashes(node.plugin_dir) == before


async def test_the_same_bundle_again_is_answered_without_writing(node, key) -> None:  # type: ignore[no-untyped-def]
    reloads = Reloads()
    installer = Installer(node, reload=reloads)
    raw = bundle(key, sequence=7)
    await installer.install(raw)
    before = folder_hashes(node.plugin_dir)
    again = await Installer(node, reload=reloads).install(raw)
    assert again.repeated and again.outcome.result == "unchanged"
    assert reloads.calls == ["bme680"]
    assert folder_hashes(node.plugin_dir) == before


def _tamper_component(raw: bytes) -> bytes:
    b = unpack(raw)
    return pack(b.manifest_bytes, b.signature, compress(NEW[:-1] + b"x"))


def _tamper_packed_bytes(raw: bytes) -> bytes:
    return raw[:-100] + bytes(x ^ 0xFF for x in raw[-100:])


def _tamper_manifest(raw: bytes) -> bytes:
    b = unpack(raw)
    changed = b.manifest.model_copy(update={"sequence": b.manifest.sequence + 1}).canonical()
    return pack(changed, b.signature, b.packed)


def _unsigned(raw: bytes) -> bytes:
    b = unpack(raw)
    return pack(b.manifest_bytes, b"", b.packed)


REFUSALS = [
    ("unsigned", lambda key: _unsigned(bundle(key)), "unsigned"),
    ("bare component", lambda key: NEW, "bare WebAssembly component"),
    ("tampered component", lambda key: _tamper_component(bundle(key)), "sha256"),
    ("damaged compression", lambda key: _tamper_packed_bytes(bundle(key)), "component"),
    ("tampered manifest", lambda key: _tamper_manifest(bundle(key)), "signature does not verify"),
    ("untrusted key", lambda key: bundle(generate()), "is not trusted"),
    ("unknown world", lambda key: bundle(key, world="toaster-plugin"), "unknown world"),
    ("unknown plugin", lambda key: bundle(key, plugin="oled", component_name="oled"),
     "does not run plugin oled"),
    ("wrong component", lambda key: bundle(key, component_name="dht22"), "from bme680.wasm"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "make", "reason"), REFUSALS, ids=[r[0] for r in REFUSALS])
async def test_a_bad_bundle_is_refused_and_nothing_changes(node, key, case, make, reason) -> None:  # type: ignore[no-untyped-def]
    reloads = Reloads()
    before = folder_hashes(node.plugin_dir)
    with pytest.raises(DeployRefused) as refused:
        await Installer(node, reload=reloads).install(make(key))
    assert reason in refused.value.reason, refused.value.reason
    assert "node pi4" in str(refused.value)
    assert folder_hashes(node.plugin_dir) == before
    assert reloads.calls == []
    assert not (node.state_dir / "pi4" / "deploys.json").exists()


async def test_a_replayed_or_older_sequence_is_refused(node, key) -> None:  # type: ignore[no-untyped-def]
    installer = Installer(node, reload=Reloads())
    older = bundle(key, OLD + b"1", sequence=100)
    await installer.install(bundle(key, sequence=200))
    before = folder_hashes(node.plugin_dir)
    for raw in (older, bundle(key, OLD + b"2", sequence=200)):
        with pytest.raises(DeployRefused) as refused:
            await installer.install(raw)
        assert "replayed or older" in refused.value.reason
        assert refused.value.plugin == "bme680"
        assert refused.value.key_id == key_id(key.public_key())
    assert folder_hashes(node.plugin_dir) == before


async def test_a_bundle_sent_for_another_plugin_is_refused(node, key) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DeployRefused, match="sent for dht22"):
        await Installer(node, reload=Reloads()).install(bundle(key), plugin="dht22")


async def test_the_world_may_not_change_under_a_plugin(node, key) -> None:  # type: ignore[no-untyped-def]
    installer = Installer(node, reload=Reloads())
    await installer.install(bundle(key, sequence=1))
    with pytest.raises(DeployRefused, match="runs 'bme680-plugin'"):
        await installer.install(bundle(key, world="dht22-plugin", sequence=2))


def test_keys_written_and_read_back(tmp_path: Path, key) -> None:  # type: ignore[no-untyped-def]
    write_key_pair(key, tmp_path / "me.pem", tmp_path / "trusted" / "me.pub")
    assert (tmp_path / "me.pem").stat().st_mode & 0o777 == 0o600
    assert load_private(tmp_path / "me.pem").public_key() == key.public_key()
    found = trusted_keys(DeployConfig(trusted_keys_dir=tmp_path / "trusted"))
    assert list(found) == [key_id(key.public_key())]
    with pytest.raises(FileExistsError):
        write_key_pair(generate(), tmp_path / "me.pem", tmp_path / "other.pub")


async def test_a_damaged_record_refuses_every_deploy_and_the_node_goes_on(node, key) -> None:  # type: ignore[no-untyped-def]
    record = node.state_dir / "pi4" / "deploys.json"
    record.parent.mkdir(parents=True)
    record.write_text('{"plugins": {"bme680": {"sequence": "half-writ')
    before = folder_hashes(node.plugin_dir)
    with pytest.raises(DeployRefused, match=r"deploy record .* is unreadable"):
        await Installer(node, reload=Reloads()).install(bundle(key, sequence=1))
    assert folder_hashes(node.plugin_dir) == before
