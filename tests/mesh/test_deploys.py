"""Deploys through real brokers (the embedded amqtt one and Debian's mosquitto, each with
the cluster's users and ACL): the hub holds a bundle for a node that is away, the node
gets it when it connects, installs it and answers; the hub records the answer and clears
what it held. A deploy the node refuses is recorded refused and changes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiomqtt
import pytest

from harvester.config import NodeConfig
from harvester.config.cluster import ClusterConfig
from harvester.config.mesh import BrokerAddress, EmbeddedBroker, HubConfig, MeshConfig
from harvester.config.model import DeployConfig, PluginConfig
from harvester.mesh.broker import EmbeddedBrokerProcess
from harvester.mesh.deploy_desk import DeployDesk, DeployEntry
from harvester.mesh.deploy_receiver import DeployReceiver
from harvester.node.deploy import Installer, generate, public_line, sign
from harvester.node.reloads import ReloadOutcome
from tests.mesh import broker_cluster as bc
from tests.mesh.brokers import free_port
from tests.mesh.test_broker_mosquitto import mosquitto_for

TIMEOUT_S = 30.0
# As large as a real bundle: a componentize-py component is ~18.5 MB, ~6.3 MB compressed.
# Random bytes do not compress, so this bundle is the size of the component.
COMPONENT = b"\0asm" + random.Random(9).randbytes(7 * 1024 * 1024)


@pytest.fixture
def cluster(tmp_path: Path) -> ClusterConfig:
    return bc.write_cluster(tmp_path / "cluster", port=free_port())


@pytest.fixture(params=["embedded", "mosquitto"])
async def broker_port(
    request: pytest.FixtureRequest, cluster: ClusterConfig, tmp_path: Path
) -> AsyncIterator[int]:
    port = cluster.broker.listen.port
    if request.param == "embedded":
        assert cluster.path is not None
        hub = HubConfig(embedded=EmbeddedBroker(port=port, cluster=cluster.path))
        async with EmbeddedBrokerProcess(hub, tmp_path / "broker-state"):
            yield port
    else:
        with mosquitto_for(cluster, tmp_path / "mosquitto"):
            yield port


def member(
    cluster: ClusterConfig, name: str, port: int, tmp_path: Path, **kw: object
) -> NodeConfig:
    mesh = MeshConfig(broker=BrokerAddress(port=port), credentials=cluster.credentials_file(name))
    return NodeConfig(
        name=name, role="hub" if name == bc.HUB else "spoke", mesh=mesh,
        state_dir=tmp_path / "state", **kw,  # type: ignore[arg-type]
    )  # fmt: skip


class Reloads:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, plugin: str) -> ReloadOutcome:
        self.calls.append(plugin)
        return ReloadOutcome(plugin, "swapped", "new", "old")


async def until(desk: DeployDesk, check: Callable[[list[DeployEntry]], bool]) -> list[DeployEntry]:
    async def wait() -> list[DeployEntry]:
        async with desk.changed:
            await desk.changed.wait_for(lambda: check(desk.entries()))
        return desk.entries()

    return await asyncio.wait_for(wait(), TIMEOUT_S)


@pytest.fixture
def key():  # type: ignore[no-untyped-def]
    return generate()


@pytest.fixture
def pi4(cluster: ClusterConfig, broker_port: int, tmp_path: Path, key) -> NodeConfig:  # type: ignore[no-untyped-def]
    plugins = tmp_path / "pi4-plugins"
    plugins.mkdir()
    (plugins / "bme680.wasm").write_bytes(b"\0asm old")
    return member(
        cluster, bc.PI4, broker_port, tmp_path, plugin_dir=plugins,
        plugins=(PluginConfig(name="bme680"),),
        deploy=DeployConfig(trusted_keys=(public_line(key.public_key()),)),
    )  # fmt: skip


def hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


async def retained_deploys(port: int, cluster: ClusterConfig) -> list[bytes]:
    """What the broker holds retained under harvester/pi4/deploy/# (as the hub sees it):
    subscribed before a retained marker, so once the marker arrives, anything held for
    pi4 would have arrived before it."""
    marker = f"harvester/{bc.HUB}/status"
    async with bc.client(port, bc.creds(cluster, bc.HUB)) as hub:
        await hub.publish(marker, b"marker", qos=1, retain=True)
        await hub.subscribe(f"harvester/{bc.PI4}/deploy/#", qos=1)
        await hub.subscribe(marker, qos=1)
        seen = await bc.until(hub, marker)
    return [payload for topic, payload in seen if topic != marker]


@pytest.fixture
def desk_for(
    cluster: ClusterConfig, broker_port: int, tmp_path: Path
) -> Iterator[Callable[[], DeployDesk]]:
    hub = member(cluster, bc.HUB, broker_port, tmp_path)
    yield lambda: DeployDesk(
        hub, credentials=bc.creds(cluster, bc.HUB), folder=tmp_path / "hub-deploys"
    )


async def test_a_deploy_to_an_offline_node_is_held_and_applied_when_it_comes(
    cluster: ClusterConfig,
    broker_port: int,
    pi4: NodeConfig,
    key,
    desk_for,  # type: ignore[no-untyped-def]
) -> None:
    raw = sign(COMPONENT, key, plugin="bme680", component_name="bme680", world="bme680-plugin")
    async with desk_for() as desk:
        await asyncio.wait_for(desk.connected.wait(), TIMEOUT_S)
        entry = await desk.submit(bc.PI4, raw)
        assert entry.state == "pending" and entry.bundle_bytes == len(raw)

        # The broker holds it for pi4, which is not connected.
        async def held() -> None:
            while await retained_deploys(broker_port, cluster) != [raw]:
                await asyncio.sleep(0.05)  # the publish of ~7 MB is acknowledged async

        await asyncio.wait_for(held(), TIMEOUT_S)
    # The hub restarts: the deploy is still pending in its list.
    async with desk_for() as desk:
        assert [(e.plugin, e.state) for e in desk.entries(bc.PI4)] == [("bme680", "pending")]
        reloads = Reloads()
        installer = Installer(pi4, reload=reloads)
        async with DeployReceiver(installer, credentials=bc.creds(cluster, bc.PI4)):
            done = await until(desk, lambda es: es[0].state != "pending")
        assert done[0].state == "applied", done[0].detail
        assert done[0].version == hashlib.sha256(COMPONENT).hexdigest()[:16]
    assert (pi4.plugin_dir / "bme680.wasm").read_bytes() == COMPONENT
    assert reloads.calls == ["bme680"]
    assert await retained_deploys(broker_port, cluster) == []  # cleared once answered


async def test_a_refused_deploy_is_recorded_and_changes_nothing(
    cluster: ClusterConfig,
    broker_port: int,
    pi4: NodeConfig,
    desk_for,  # type: ignore[no-untyped-def]
) -> None:
    stranger = generate()
    raw = sign(b"\0asm evil", stranger, plugin="bme680", component_name="bme680",
               world="bme680-plugin")  # fmt: skip
    before = hashes(pi4.plugin_dir)
    reloads = Reloads()
    async with (
        desk_for() as desk,
        DeployReceiver(
            Installer(pi4, reload=reloads), credentials=bc.creds(cluster, bc.PI4)
        ) as receiver,
    ):
        await asyncio.wait_for(receiver.ready.wait(), TIMEOUT_S)
        await asyncio.wait_for(desk.connected.wait(), TIMEOUT_S)
        await desk.submit(bc.PI4, raw)
        done = await until(desk, lambda es: es[0].state != "pending")
    assert done[0].state == "refused"
    assert "is not trusted" in done[0].detail and "key" in done[0].detail
    assert hashes(pi4.plugin_dir) == before and reloads.calls == []
    assert await retained_deploys(broker_port, cluster) == []


async def test_a_spoke_cannot_deploy_to_another_spoke(
    cluster: ClusterConfig, broker_port: int
) -> None:
    """pizero may not write pi4's deploy topic. Its publish is acknowledged (or refused)
    before the hub's marker is sent, so had it got through, pi4 would see it first."""
    marker = f"harvester/{bc.PI4}/cmd/marker"
    async with (
        bc.client(broker_port, bc.creds(cluster, bc.HUB)) as hub,
        bc.client(broker_port, bc.creds(cluster, bc.PI4)) as pi4,
        bc.client(broker_port, bc.creds(cluster, bc.PIZERO)) as pizero,
    ):
        await pi4.subscribe(f"harvester/{bc.PI4}/deploy/#", qos=1)
        await pi4.subscribe(f"harvester/{bc.PI4}/cmd/#", qos=1)
        try:
            await pizero.publish(f"harvester/{bc.PI4}/deploy/bme680", b"forged", qos=1)
        except aiomqtt.MqttError:
            pass  # refused outright is as good as dropped
        await hub.publish(marker, b"marker", qos=1)
        seen = await bc.until(pi4, marker)
    assert seen == [(marker, b"marker")]
