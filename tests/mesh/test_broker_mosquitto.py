"""The generated Mosquitto config, run in real mosquitto processes: users, ACL,
persistence, TLS and the bridge."""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
from pathlib import Path

import aiomqtt
import pytest

from harvester.config import NodeConfig
from harvester.config.cluster import ClusterConfig
from harvester.config.mesh import BrokerAddress, ClientTls, MeshConfig
from harvester.config.secrets import write_private
from harvester.mesh.broker import acl_lines, load_cluster_credentials, render
from harvester.mesh.broker.passwords import verify_password
from harvester.mesh.connection import make_client
from tests.mesh import broker_cluster as bc
from tests.mesh.brokers import MosquittoProcess, free_port


def mosquitto_for(cluster: ClusterConfig, workdir: Path) -> MosquittoProcess:
    files = render(
        cluster,
        load_cluster_credentials(cluster),
        directory=workdir,
        run_as=getpass.getuser(),  # as root, mosquitto would switch to `mosquitto`
    )
    files.write()
    return MosquittoProcess(workdir, port=cluster.broker.listen.port, conf=files.conf)


@pytest.fixture
def cluster(tmp_path: Path) -> ClusterConfig:
    return bc.write_cluster(tmp_path / "cluster", port=free_port())


@pytest.fixture
def broker(cluster: ClusterConfig, tmp_path: Path) -> MosquittoProcess:
    with mosquitto_for(cluster, tmp_path / "mosquitto") as running:
        yield running


def test_password_file_is_mosquittos_format(cluster: ClusterConfig, tmp_path: Path) -> None:
    files = render(cluster, load_cluster_credentials(cluster), directory=tmp_path)
    lines = dict(line.split(":", 1) for line in files.passwd.splitlines())
    assert sorted(lines) == [bc.PI4, bc.PIZERO, bc.HUB]
    pi4 = bc.creds(cluster, bc.PI4)
    assert lines[bc.PI4].startswith("$7$101$")
    assert verify_password(pi4.password, lines[bc.PI4])
    assert not verify_password(pi4.password + "x", lines[bc.PI4])
    assert pi4.password not in files.passwd + files.conf + files.acl


def test_acl_lines_for_nixos(cluster: ClusterConfig) -> None:
    lines = acl_lines(cluster, discovery_prefix="ha")
    assert lines[bc.PI4][-3:] == [
        "write harvester/pi4/state/#",
        "read harvester/pi4/cmd/#",
        "read harvester/pi4/deploy/#",
    ]
    assert "write harvester/pi4/status" in lines[bc.PI4]
    assert "write harvester/pi4/deploy-result" in lines[bc.PI4]
    assert not any(
        "cmd/" in line or "deploy/" in line for line in lines[bc.PI4] if line.startswith("write")
    )
    assert lines[bc.HUB] == [
        "read harvester/#",
        "write harvester/+/cmd/#",
        "write harvester/+/deploy/#",
        "readwrite harvester/revpi/#",
        "readwrite ha/#",
    ]


async def test_users_and_passwords(broker: MosquittoProcess, cluster: ClusterConfig) -> None:
    await bc.check_auth(broker.port, cluster)


async def test_spoke_writes_only_its_own_telemetry(
    broker: MosquittoProcess, cluster: ClusterConfig
) -> None:
    await bc.check_spoke_writes(broker.port, cluster)


async def test_hub_commands_reach_only_their_spoke(
    broker: MosquittoProcess, cluster: ClusterConfig
) -> None:
    await bc.check_commands(broker.port, cluster)


async def test_will_on_another_nodes_topic_is_refused(
    broker: MosquittoProcess, cluster: ClusterConfig
) -> None:
    await bc.check_will(broker.port, cluster)


async def test_retained_status_survives_a_restart(
    broker: MosquittoProcess, cluster: ClusterConfig
) -> None:
    await bc.publish_status(broker.port, cluster, b"online-1")
    broker.stop()  # SIGTERM: mosquitto saves its store
    broker.start()
    assert await bc.check_retained(broker.port, cluster, f"harvester/{bc.PI4}/status") == (
        b"online-1"
    )


def make_ca_and_server_cert(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it (ca, cert, key files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("harvester test CA"))
        .issuer_name(name("harvester test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(cert.public_bytes(pem))
    write_private(
        folder / "server.key",
        key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    )
    return folder / "ca.pem", folder / "server.pem", folder / "server.key"


async def test_tls_listener(tmp_path: Path) -> None:
    ca, cert, key = make_ca_and_server_cert(tmp_path / "pki")
    tls_port = free_port()
    cluster = bc.write_cluster(
        tmp_path / "cluster",
        port=free_port(),
        extra=f'[broker.tls]\nport = {tls_port}\ncert_file = "{cert}"\nkey_file = "{key}"\n',
    )
    with mosquitto_for(cluster, tmp_path / "mosquitto"):
        node = NodeConfig(
            name=bc.PI4,
            mesh=MeshConfig(
                broker=BrokerAddress(port=tls_port),
                credentials=cluster.credentials_file(bc.PI4),
                tls=ClientTls(ca_file=ca),
            ),
        )
        pi4 = bc.creds(cluster, bc.PI4)
        async with bc.client(cluster.broker.listen.port, bc.creds(cluster, bc.HUB)) as hub:
            await hub.subscribe(f"harvester/{bc.PI4}/status", qos=1)
            async with make_client(node, client_id="pi4-tls", credentials=pi4) as tls_client:
                await tls_client.publish(f"harvester/{bc.PI4}/status", b"over tls", qos=1)
            seen = await bc.until(hub, f"harvester/{bc.PI4}/status")
        assert seen[-1][1] == b"over tls"
        # The same users and ACL on the TLS listener: a wrong password is refused there too.
        wrong = make_client(
            node, client_id="pi4-tls-wrong", credentials=type(pi4)(pi4.username, "nope")
        )
        with pytest.raises(aiomqtt.MqttCodeError):
            async with wrong:
                pass


async def test_bridge_forwards_under_the_remote_prefix(tmp_path: Path) -> None:
    with MosquittoProcess(tmp_path / "upstream") as upstream:
        cluster = bc.write_cluster(
            tmp_path / "cluster",
            port=free_port(),
            extra=(
                '[broker.bridge]\nname = "upstream"\nhost = "127.0.0.1"\n'
                f'port = {upstream.port}\nremote_prefix = "fleet/greenhouse/"\n'
            ),
        )
        async with bc.client(upstream.port, None) as up:
            # The bridge announces itself upstream (retained): an event to await, no sleep.
            await up.subscribe("$SYS/broker/connection/+/state", qos=1)
            await up.subscribe("fleet/greenhouse/harvester/#", qos=1)
            with mosquitto_for(cluster, tmp_path / "hub-broker") as hub_broker:
                state = await bc.until(up, "$SYS/broker/connection/greenhouse-revpi-bridge/state")
                assert state[-1][1] == b"1"
                async with bc.client(hub_broker.port, bc.creds(cluster, bc.PI4)) as pi4:
                    await pi4.publish(f"harvester/{bc.PI4}/readings", b"r1", qos=1)
                seen = await bc.until(up, f"fleet/greenhouse/harvester/{bc.PI4}/readings")
    assert seen[-1][1] == b"r1"


async def test_a_spoke_gets_no_retained_messages_it_did_not_subscribe_to(
    broker: MosquittoProcess, cluster: ClusterConfig
) -> None:
    await bc.check_no_retained_leak(broker.port, cluster)


async def test_a_silent_client_is_dropped_after_its_keepalive_and_its_will_sent(
    broker: MosquittoProcess, cluster: ClusterConfig
) -> None:
    await bc.check_silent_client_gets_its_will_published(broker.port, cluster)
