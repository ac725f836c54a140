"""A small cluster (hub `revpi`, spokes `pi4` and `pizero`) with real secrets files, and
the auth and ACL checks every broker must pass (test_broker_mosquitto.py and
test_broker_embedded.py run the same ones against their broker process)."""

from __future__ import annotations

import asyncio
import itertools
import socket
from pathlib import Path

import aiomqtt

from harvester.config.cluster import ClusterConfig, load_cluster_config
from harvester.config.secrets import Credentials, load_credentials, write_private

HUB, PI4, PIZERO = "revpi", "pi4", "pizero"
TIMEOUT_S = 10.0
_ids = itertools.count()


def write_cluster(folder: Path, *, port: int, extra: str = "") -> ClusterConfig:
    """cluster.toml and every node's credentials in `folder`; loaded back."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cluster.toml"
    path.write_text(
        f"""
[cluster]
name = "greenhouse"
secrets_dir = "secrets"
[broker.listen]
host = "127.0.0.1"
port = {port}
{extra}
[[nodes]]
name = "{HUB}"
role = "hub"
config = "{HUB}.toml"
[[nodes]]
name = "{PI4}"
role = "spoke"
config = "{PI4}.toml"
[[nodes]]
name = "{PIZERO}"
role = "spoke"
config = "{PIZERO}.toml"
"""
    )
    cluster = load_cluster_config(path)
    for n in cluster.nodes:
        write_private(
            cluster.credentials_file(n.name),
            f'username = "{n.name}"\npassword = "pw-of-{n.name}-{next(_ids)}"\n',
        )
    return cluster


def creds(cluster: ClusterConfig, node: str) -> Credentials:
    return load_credentials(cluster.credentials_file(node))


def client(port: int, who: Credentials | None, *, password: str | None = None) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1",
        port,
        username=who.username if who else None,
        password=password if password is not None else (who.password if who else None),
        identifier=f"test-{who.username if who else 'anon'}-{next(_ids)}",
        timeout=TIMEOUT_S,
    )


async def refused(port: int, who: Credentials | None, *, password: str | None = None) -> bool:
    """Does the broker refuse this connect (CONNACK not accepted)?"""
    try:
        async with client(port, who, password=password):
            return False
    except aiomqtt.MqttCodeError:
        return True


async def until(messages: aiomqtt.Client, topic: str) -> list[tuple[str, bytes]]:
    """Every message `messages` receives, up to and including the first on `topic`."""
    seen: list[tuple[str, bytes]] = []

    async def read() -> None:
        async for m in messages.messages:
            seen.append((m.topic.value, bytes(m.payload)))  # type: ignore[arg-type]
            if m.topic.value == topic:
                return

    await asyncio.wait_for(read(), TIMEOUT_S)
    return seen


async def check_auth(port: int, cluster: ClusterConfig) -> None:
    pi4 = creds(cluster, PI4)
    async with client(port, pi4):
        pass  # the right password connects
    assert await refused(port, pi4, password=pi4.password + "x"), "a wrong password connected"
    assert await refused(port, None), "an anonymous client connected"
    stranger = Credentials("mallory", "pw")
    assert await refused(port, stranger), "an unknown user connected"


# What a spoke must not get through: another node's telemetry, any command, discovery.
FORBIDDEN_FOR_PI4 = (
    f"harvester/{PIZERO}/readings",
    f"harvester/{PIZERO}/status",
    f"harvester/{PIZERO}/cmd/buzzer.beep",
    f"harvester/{PI4}/cmd/buzzer.beep",
    f"harvester/{HUB}/status",
    "homeassistant/sensor/pi4/config",
)


async def check_spoke_writes(port: int, cluster: ClusterConfig) -> None:
    """A spoke's forbidden publishes never reach the hub, which reads everything. With
    QoS 1 on one connection the broker handles them in order, so once the allowed marker
    arrives, a forbidden message that got through would have arrived before it."""
    marker = f"harvester/{PI4}/readings"
    async with client(port, creds(cluster, HUB)) as hub, client(port, creds(cluster, PI4)) as pi4:
        await hub.subscribe("harvester/#", qos=1)
        await hub.subscribe("homeassistant/#", qos=1)
        for topic in FORBIDDEN_FOR_PI4:
            await pi4.publish(topic, b"forged", qos=1)
        await pi4.publish(f"harvester/{PI4}/state/dht22", b"ok", qos=1)
        await pi4.publish(marker, b"marker", qos=1)
        seen = await until(hub, marker)
    assert seen == [(f"harvester/{PI4}/state/dht22", b"ok"), (marker, b"marker")]


async def check_commands(port: int, cluster: ClusterConfig) -> None:
    """The hub sends commands and writes discovery; a spoke gets its own commands only and
    reads nothing of another node (however wide it subscribes)."""
    own = f"harvester/{PI4}/cmd/buzzer.beep"
    async with (
        client(port, creds(cluster, HUB)) as hub,
        client(port, creds(cluster, PI4)) as pi4,
        client(port, creds(cluster, PIZERO)) as pizero,
    ):
        await pi4.subscribe(f"harvester/{PI4}/cmd/#", qos=1)
        # Mosquitto grants these and filters each delivery; amqtt refuses them outright.
        for wide in ("harvester/#", "harvester/+/cmd/#", f"harvester/{PIZERO}/#"):
            await pi4.subscribe(wide, qos=1)
        await hub.subscribe(f"harvester/{PIZERO}/readings", qos=1)
        await hub.subscribe("homeassistant/#", qos=1)
        await pizero.publish(f"harvester/{PIZERO}/readings", b"zero", qos=1)
        # Once the hub has it, the broker has routed it to every subscriber, pi4 included.
        assert (await until(hub, f"harvester/{PIZERO}/readings"))[-1][1] == b"zero"
        await hub.publish("homeassistant/sensor/pi4/config", b"{}", qos=1, retain=False)
        assert await until(hub, "homeassistant/sensor/pi4/config")
        await hub.publish(f"harvester/{PIZERO}/cmd/buzzer.beep", b"not for pi4", qos=1)
        await hub.publish(own, b"beep", qos=1)
        seen = await until(pi4, own)
    assert {t for t, _ in seen} == {own}, f"pi4 received more than its own command: {seen}"


async def check_retained(port: int, cluster: ClusterConfig, topic: str) -> bytes:
    """The retained message a fresh hub subscriber gets on `topic`."""
    async with client(port, creds(cluster, HUB)) as hub:
        await hub.subscribe(topic, qos=1)

        async def first() -> aiomqtt.Message:
            async for m in hub.messages:
                return m
            raise AssertionError("no message")

        m = await asyncio.wait_for(first(), TIMEOUT_S)
    assert m.retain, "the status was not delivered as retained"
    return bytes(m.payload)  # type: ignore[arg-type]


async def publish_status(port: int, cluster: ClusterConfig, payload: bytes) -> None:
    """pi4's retained status, acknowledged by the broker (QoS 1)."""
    async with client(port, creds(cluster, PI4)) as pi4:
        await pi4.publish(f"harvester/{PI4}/status", payload, qos=1, retain=True)


def _mqtt_str(value: str) -> bytes:
    raw = value.encode()
    return len(raw).to_bytes(2, "big") + raw


def raw_connect(
    port: int, who: Credentials, will_topic: str, *, keepalive: int = 60
) -> tuple[socket.socket, int]:
    """A raw MQTT 3.1.1 CONNECT with a QoS 1 will: the open socket and the CONNACK code."""
    payload = b"".join(
        _mqtt_str(s)
        for s in (f"raw-{next(_ids)}", will_topic, "offline", who.username, who.password)
    )
    # protocol name and level, flags (user, password, will QoS 1, will, clean), keep-alive
    flags = 0x80 | 0x40 | 0x08 | 0x04 | 0x02
    body = _mqtt_str("MQTT") + bytes([4, flags]) + keepalive.to_bytes(2, "big") + payload
    assert len(body) < 128  # one length byte
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
    sock.sendall(bytes([0x10, len(body)]) + body)
    connack = sock.recv(4)
    assert connack[:2] == b"\x20\x02", connack
    return sock, connack[3]


def connect_with_will(port: int, who: Credentials, will_topic: str) -> int:
    """raw_connect, then drop the connection without DISCONNECT, so the broker publishes
    the will (if it may); the CONNACK code."""
    sock, code = raw_connect(port, who, will_topic)
    sock.close()
    return code


async def check_silent_client_gets_its_will_published(port: int, cluster: ClusterConfig) -> None:
    """A client that goes silent with its connection open (a cut cable, a partition: no
    TCP reset) is dropped after its keep-alive and its will goes out."""
    topic = f"harvester/{PI4}/status"
    async with client(port, creds(cluster, HUB)) as hub:
        await hub.subscribe(topic, qos=1)
        sock, code = raw_connect(port, creds(cluster, PI4), topic, keepalive=1)
        try:
            assert code == 0
            seen = await until(hub, topic)  # sends nothing more: only the will can arrive
        finally:
            sock.close()
    assert seen[-1] == (topic, b"offline")


async def check_will(port: int, cluster: ClusterConfig) -> None:
    """A spoke's last will on another node's topic never reaches the hub (Mosquitto drops
    it when it would publish it; the embedded broker refuses such a connect); one on its
    own status does. The forged connection is dropped first: the broker sees its end
    before the second connection even exists."""
    pi4 = creds(cluster, PI4)
    async with client(port, creds(cluster, HUB)) as hub:
        await hub.subscribe("harvester/#", qos=1)
        forged = await asyncio.to_thread(connect_with_will, port, pi4, f"harvester/{PIZERO}/status")
        assert await asyncio.to_thread(connect_with_will, port, pi4, f"harvester/{PI4}/status") == 0
        seen = await until(hub, f"harvester/{PI4}/status")
    assert seen == [(f"harvester/{PI4}/status", b"offline")], (forged, seen)


async def check_no_retained_leak(port: int, cluster: ClusterConfig) -> None:
    """A spoke connecting while the hub holds wide subscriptions gets no other node's
    retained messages, only what its own subscription covers (amqtt 0.12.1 sent the
    retained messages of every client's filters to every new connection)."""
    await publish_status(port, cluster, b"online")  # pi4's retained status
    async with client(port, creds(cluster, HUB)) as hub:
        await hub.subscribe("harvester/+/status", qos=1)
        await hub.subscribe("harvester/+/plugins", qos=1)
        async with client(port, creds(cluster, PIZERO)) as pizero:
            await pizero.subscribe(f"harvester/{PIZERO}/cmd/#", qos=1)
            # The hub's command is the marker: anything retained would arrive before it.
            await hub.publish(f"harvester/{PIZERO}/cmd/led.off", b"marker", qos=1)
            seen = await until(pizero, f"harvester/{PIZERO}/cmd/led.off")
    assert seen == [(f"harvester/{PIZERO}/cmd/led.off", b"marker")]
