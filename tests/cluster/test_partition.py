"""A partition and its recovery: each node in its own network namespace, joined by veth
links the test makes; cutting the pi4's link (as a NixOS test's `block()` does) shows it
offline at the hub, and after `unblock()` everything it read meanwhile arrives, once.

Where namespaces cannot be made (not root, no iproute2) the same cluster runs on
loopback with no link to cut: the test says so, in its output and as a warning.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harvester.cli.demo import ClusterProcesses
from tests.cluster import netns
from tests.cluster.harness import Api, ClusterFiles, cluster_on, lan_or_loopback, wait_until

pytestmark = [pytest.mark.wasm, pytest.mark.cluster]

NODES = ("revpi", "pi4", "pizero")
CUT_S = 20.0  # longer than the keep-alive timeout on both sides (1.5 x 5 s)


@pytest.fixture(scope="module")
def lan() -> Iterator[netns.Lan | None]:
    with lan_or_loopback(NODES, "the partition test runs on loopback, no link to cut") as made:
        yield made


@pytest.fixture(scope="module")
def running(
    lan: netns.Lan | None, plugin_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ClusterFiles, ClusterProcesses]]:
    folder = tmp_path_factory.mktemp("partition")
    with cluster_on(lan, folder, plugin_dir=plugin_dir, poll_s=1.0) as started:
        yield started


def test_a_cut_spoke_is_shown_offline_and_recovers_with_nothing_lost(
    lan: netns.Lan | None, running: tuple[ClusterFiles, ClusterProcesses]
) -> None:
    files, processes = running
    api = Api(processes.url)
    wait_until(
        lambda: all((api.node(n) or {}).get("state") == "online" for n in NODES),
        timeout=60,
        what="three nodes online",
    )
    if lan is None:  # nothing to cut on loopback: the cluster at least works end to end
        assert api.latest("pi4") and api.latest("pizero")
        return
    lan.block("pi4")
    cut_at = time.monotonic()
    offline = wait_until(
        lambda: (n := api.node("pi4")) and n["state"] == "offline" and n,
        timeout=15,
        what="pi4 offline at the hub",
    )
    assert offline["reason"] in ("will", "silent")
    assert (api.node("pizero") or {}).get("state") == "online"  # only pi4 was cut
    during = len(files.stored_seqs("pi4"))
    time.sleep(max(0.0, CUT_S - (time.monotonic() - cut_at)))  # how long the cut lasts
    assert len(files.stored_seqs("pi4")) == during  # nothing crossed the cut
    lan.unblock("pi4")
    wait_until(
        lambda: (api.node("pi4") or {}).get("state") == "online", timeout=60, what="pi4 back"
    )
    last = files.outbox("pi4")[1] - 1
    seqs = wait_until(
        lambda: (s := files.stored_seqs("pi4")) and s[-1] >= last and s,
        timeout=60,
        what="pi4's backlog at the hub",
    )
    assert seqs == list(range(1, seqs[-1] + 1))
    assert len(seqs) > during
