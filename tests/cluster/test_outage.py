"""Nothing is lost: the reference cluster on Mosquitto (the production broker, config
generated from the cluster file), through a broker outage of more than 30 s and a spoke
killed while it drains its outbox. The hub's history must then hold every item each
spoke numbered, exactly once."""

from __future__ import annotations

import getpass
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harvester.cli.demo import ClusterProcesses
from harvester.cli.secrets import ensure_secrets
from harvester.mesh.broker import load_cluster_credentials, render
from tests.cluster.harness import Api, ClusterFiles, wait_until, write_cluster
from tests.mesh.brokers import MosquittoProcess

pytestmark = [pytest.mark.wasm, pytest.mark.cluster]

OUTAGE_S = 32.0
SPOKES = ("pi4", "pizero")


def outbox_state(files: ClusterFiles, node: str) -> tuple[int, int]:
    """(rows waiting, the next seq the spoke will use)."""
    rows, next_seq, _ = files.outbox(node)
    return rows, next_seq


@pytest.fixture(scope="module")
def files(plugin_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ClusterFiles:
    return write_cluster(
        tmp_path_factory.mktemp("outage"), plugin_dir=plugin_dir, kind="mosquitto", poll_s=1.0
    )


@pytest.fixture(scope="module")
def broker(files: ClusterFiles) -> Iterator[MosquittoProcess]:
    cluster = files.cluster
    ensure_secrets(cluster, quiet=True)
    rendered = render(
        cluster,
        load_cluster_credentials(cluster),
        directory=files.folder / "mosquitto",
        run_as=getpass.getuser(),  # as root, mosquitto would switch to `mosquitto`
    )
    rendered.directory.mkdir(parents=True, exist_ok=True)
    rendered.write()
    with MosquittoProcess(
        files.folder / "mosquitto", port=files.broker_port, conf=rendered.conf
    ) as running:
        yield running


@pytest.fixture(scope="module")
def cluster(files: ClusterFiles, broker: MosquittoProcess) -> Iterator[ClusterProcesses]:
    processes = ClusterProcesses(files.cluster_file, echo=False, log_dir=files.folder)
    with processes.running():
        yield processes


def test_a_broker_outage_loses_nothing_and_doubles_nothing(
    files: ClusterFiles, broker: MosquittoProcess, cluster: ClusterProcesses
) -> None:
    api = Api(cluster.url)
    for node in SPOKES:
        wait_until(lambda n=node: api.latest(n), timeout=60, what=f"{node}'s first readings")
    broker.stop()
    stopped = time.monotonic()
    # The spokes go on reading into their outboxes.
    before = {node: outbox_state(files, node)[1] for node in SPOKES}
    wait_until(
        lambda: (
            time.monotonic() - stopped >= OUTAGE_S
            and all(outbox_state(files, n)[0] >= 10 for n in SPOKES)
        ),
        timeout=OUTAGE_S + 30,
        what="an outage of 30 s with telemetry queued",
    )
    queued = {node: outbox_state(files, node) for node in SPOKES}
    assert all(queued[n][1] > before[n] for n in SPOKES), queued
    broker.start()
    # Each spoke drains everything, and the hub stores each item once.
    for node in SPOKES:
        wait_until(
            lambda n=node: outbox_state(files, n)[0] == 0, timeout=90, what=f"{node} drained"
        )
    for node in SPOKES:
        _, next_seq = outbox_state(files, node)
        seqs = wait_until(
            lambda n=node, last=next_seq - 1: (s := files.stored_seqs(n)) and s[-1] >= last and s,
            timeout=60,
            what=f"{node}'s last item at the hub",
        )
        expected = list(range(1, seqs[-1] + 1))
        assert files.outbox(node)[2] == 0
        assert seqs == expected, f"{node}: gaps {sorted(set(expected) - set(seqs))[:20]}"


def test_a_spoke_killed_mid_drain_still_delivers_exactly_once(
    files: ClusterFiles, broker: MosquittoProcess, cluster: ClusterProcesses
) -> None:
    broker.stop()
    wait_until(lambda: outbox_state(files, "pi4")[0] >= 40, timeout=90, what="a backlog on pi4")
    broker.start()
    # Kill it as soon as the hub has some of the backlog but the outbox still holds rows.
    first_rows = outbox_state(files, "pi4")[0]
    wait_until(
        lambda: 0 < outbox_state(files, "pi4")[0] < first_rows,
        timeout=60,
        what="pi4 part-way through its drain",
    )
    cluster.nodes["pi4"].send(signal.SIGKILL)
    cluster.nodes["pi4"].wait(10)
    left, _ = outbox_state(files, "pi4")
    cluster.start_node("pi4")
    wait_until(lambda: outbox_state(files, "pi4")[0] == 0, timeout=90, what="pi4 drained")
    _, next_seq = outbox_state(files, "pi4")
    seqs = wait_until(
        lambda: (s := files.stored_seqs("pi4")) and s[-1] >= next_seq - 1 and s,
        timeout=60,
        what="pi4's last item at the hub",
    )
    assert left > 0  # it really died with rows still to send
    assert seqs == list(range(1, seqs[-1] + 1))
