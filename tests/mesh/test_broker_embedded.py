"""The embedded broker (amqtt in a child process): the same users and ACL as the
generated Mosquitto config, anonymous on loopback without a cluster, retained messages
and QoS 1, a clear error when the port is taken, and no child left behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from harvester.config.cluster import ClusterConfig
from harvester.config.mesh import EmbeddedBroker, HubConfig
from harvester.mesh.broker import EmbeddedBrokerError, EmbeddedBrokerProcess
from tests.mesh import broker_cluster as bc
from tests.mesh.brokers import free_port


@pytest.fixture
def cluster(tmp_path: Path) -> ClusterConfig:
    return bc.write_cluster(tmp_path / "cluster", port=free_port())


@pytest.fixture
async def broker(cluster: ClusterConfig, tmp_path: Path) -> AsyncIterator[EmbeddedBrokerProcess]:
    assert cluster.path is not None
    hub = HubConfig(embedded=EmbeddedBroker(port=cluster.broker.listen.port, cluster=cluster.path))
    async with EmbeddedBrokerProcess(hub, tmp_path / "state") as running:
        yield running


async def test_users_and_passwords(broker: EmbeddedBrokerProcess, cluster: ClusterConfig) -> None:
    await bc.check_auth(broker.hub.embedded.port, cluster)


async def test_spoke_writes_only_its_own_telemetry(
    broker: EmbeddedBrokerProcess, cluster: ClusterConfig
) -> None:
    await bc.check_spoke_writes(broker.hub.embedded.port, cluster)


async def test_hub_commands_reach_only_their_spoke(
    broker: EmbeddedBrokerProcess, cluster: ClusterConfig
) -> None:
    await bc.check_commands(broker.hub.embedded.port, cluster)


async def test_will_on_another_nodes_topic_is_refused(
    broker: EmbeddedBrokerProcess, cluster: ClusterConfig
) -> None:
    await bc.check_will(broker.hub.embedded.port, cluster)
    assert (
        bc.connect_with_will(
            broker.hub.embedded.port, bc.creds(cluster, bc.PI4), f"harvester/{bc.PIZERO}/status"
        )
        == 5
    )  # not authorised: refused at connect


async def test_retained_status_reaches_a_later_subscriber(
    broker: EmbeddedBrokerProcess, cluster: ClusterConfig
) -> None:
    await bc.publish_status(broker.hub.embedded.port, cluster, b"online")
    got = await bc.check_retained(broker.hub.embedded.port, cluster, f"harvester/{bc.PI4}/status")
    assert got == b"online"


async def test_anonymous_without_a_cluster(tmp_path: Path) -> None:
    hub = HubConfig(embedded=EmbeddedBroker(port=free_port()))
    async with EmbeddedBrokerProcess(hub, tmp_path / "state") as running:
        async with bc.client(hub.embedded.port, None) as anon:
            await anon.subscribe("harvester/#", qos=1)
            await anon.publish("harvester/pi4/cmd/buzzer.beep", b"any", qos=1)
            seen = await bc.until(anon, "harvester/pi4/cmd/buzzer.beep")
        assert seen == [("harvester/pi4/cmd/buzzer.beep", b"any")]
        pid = running.pid
        assert pid is not None
        stats = running.stats()
        assert stats["embedded_broker_up"] == 1.0 and stats["embedded_broker_rss_bytes"] > 1e6
    assert running.stats() == {"embedded_broker_up": 0.0}
    # Stopped on exit: the child is gone (waited for, so its pid is free).
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_port_taken_names_host_and_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        hub = HubConfig(embedded=EmbeddedBroker(port=port))
        with pytest.raises(EmbeddedBrokerError, match=f"127.0.0.1:{port}.*port is taken"):
            async with EmbeddedBrokerProcess(hub, tmp_path / "state"):
                pass


async def test_bad_cluster_secrets_are_named(cluster: ClusterConfig, tmp_path: Path) -> None:
    cluster.credentials_file(bc.PIZERO).unlink()
    assert cluster.path is not None
    hub = HubConfig(embedded=EmbeddedBroker(port=free_port(), cluster=cluster.path))
    with pytest.raises(EmbeddedBrokerError, match=r"pizero\.toml"):
        async with EmbeddedBrokerProcess(hub, tmp_path / "state"):
            pass


def test_broker_dies_with_its_parent(tmp_path: Path) -> None:
    """A hub killed with SIGKILL leaves no broker behind (PR_SET_PDEATHSIG)."""
    port = free_port()
    parent = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from harvester.config.mesh import EmbeddedBroker, HubConfig
        from harvester.mesh.broker import EmbeddedBrokerProcess

        async def main():
            hub = HubConfig(embedded=EmbeddedBroker(port={port}))
            async with EmbeddedBrokerProcess(hub, Path({str(tmp_path)!r})) as b:
                print(b.pid, flush=True)
                await asyncio.Event().wait()

        asyncio.run(main())
        """
    )
    hub = subprocess.Popen(
        [sys.executable, "-c", parent], stdout=subprocess.PIPE, env={**os.environ}, text=True
    )
    assert hub.stdout is not None
    child = int(hub.stdout.readline())
    hub.send_signal(signal.SIGKILL)
    hub.wait()
    # The orphan is re-parented and reaped by init/subreaper; wait for it to vanish.
    deadline_ok = _gone_within(child, 10.0)
    assert deadline_ok, f"broker child {child} outlived its killed parent"


def _gone_within(pid: int, timeout: float) -> bool:
    import time

    until = time.monotonic() + timeout
    while time.monotonic() < until:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if _is_zombie(pid):
            return True
        time.sleep(0.02)  # no event tells us another process's child exited
    return False


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except OSError:
        return True


async def test_retained_status_survives_a_restart(cluster: ClusterConfig, tmp_path: Path) -> None:
    assert cluster.path is not None
    port = cluster.broker.listen.port
    hub = HubConfig(embedded=EmbeddedBroker(port=port, cluster=cluster.path))
    async with EmbeddedBrokerProcess(hub, tmp_path / "state"):
        await bc.publish_status(port, cluster, b"gone")
        await bc.publish_status(port, cluster, b"online-1")  # replaces "gone"
        async with bc.client(port, bc.creds(cluster, bc.HUB)) as revpi:
            await revpi.publish("homeassistant/sensor/x/config", b"{}", qos=1, retain=True)
            await revpi.publish("homeassistant/sensor/x/config", b"", qos=1, retain=True)  # clear
    async with EmbeddedBrokerProcess(hub, tmp_path / "state"):
        got = await bc.check_retained(port, cluster, f"harvester/{bc.PI4}/status")
        assert got == b"online-1"
        async with bc.client(port, bc.creds(cluster, bc.HUB)) as revpi:
            await revpi.subscribe("homeassistant/#", qos=1)
            await revpi.subscribe(f"harvester/{bc.PI4}/status", qos=1)
            seen = await bc.until(revpi, f"harvester/{bc.PI4}/status")
        assert seen == [(f"harvester/{bc.PI4}/status", b"online-1")]  # the cleared one is gone


async def test_a_spoke_gets_no_retained_messages_it_did_not_subscribe_to(
    broker: EmbeddedBrokerProcess, cluster: ClusterConfig
) -> None:
    await bc.check_no_retained_leak(broker.hub.embedded.port, cluster)


async def test_a_silent_client_is_dropped_after_its_keepalive_and_its_will_sent(
    broker: EmbeddedBrokerProcess, cluster: ClusterConfig
) -> None:
    await bc.check_silent_client_gets_its_will_published(broker.hub.embedded.port, cluster)
