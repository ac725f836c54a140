"""A signed deploy to a spoke that is cut off: the hub holds it (pending), and when the
link is back the spoke checks the signature, installs it and reports the new version
with the key that signed it. Each node runs in its own network namespace (netns.py).

The "new version" is the Adafruit-driver BME680 plugin (same world, built already for the
plugin tests) deployed as pi4's `bme680` component with `--as`: no extra build. Without
network namespaces (not root) the same runs on loopback with the spoke stopped instead
of cut off, and the test says so.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harvester.cli.demo import ClusterProcesses
from harvester.node.deploy import key_id, load_private
from tests.cluster import netns
from tests.cluster.harness import Api, ClusterFiles, cluster_on, lan_or_loopback, wait_until
from tests.conftest import BUILD_CACHE, ROOT

pytestmark = [pytest.mark.wasm, pytest.mark.cluster, pytest.mark.slow]

NODES = ("revpi", "pi4", "pizero")


@pytest.fixture(scope="module")
def lan() -> Iterator[netns.Lan | None]:
    with lan_or_loopback(NODES, "no link to cut") as made:
        yield made


@pytest.fixture(scope="module")
def own_plugins(plugin_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test builds, linked: a deploy replaces pi4's link by a file of its own and
    leaves the shared build untouched."""
    folder = tmp_path_factory.mktemp("deploy-plugins")
    for component in plugin_dir.glob("*.wasm"):
        (folder / component.name).symlink_to(component)
    return folder


@pytest.fixture(scope="module")
def running(
    lan: netns.Lan | None, own_plugins: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ClusterFiles, ClusterProcesses]]:
    folder = tmp_path_factory.mktemp("deploy")
    with cluster_on(lan, folder, plugin_dir=own_plugins, poll_s=1.0) as started:
        yield started


def bme680_on_pi4(api: Api) -> dict[str, object]:
    plugins = api.get("/api/nodes/pi4/plugins")["plugins"]
    return next(p for p in plugins if p["name"] == "bme680")


def deploy(
    files: ClusterFiles, url: str, out: Path, plugin: str = "bme680-adafruit", *more: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harvester", "deploy", "--cluster", str(files.cluster_file),
         "--node", "pi4", "--as", "bme680", "--hub", url, "--cache", str(BUILD_CACHE),
         "--out", str(out), "--wait", "60", *more, str(ROOT / "plugins" / plugin)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
    )  # fmt: skip


def test_a_deploy_to_a_cut_off_spoke_is_held_and_applied_when_it_returns(
    lan: netns.Lan | None,
    running: tuple[ClusterFiles, ClusterProcesses],
    own_plugins: Path,
    plugin_dir: Path,
    tmp_path: Path,
) -> None:
    files, processes = running
    api = Api(processes.url, token=files.token())
    wait_until(
        lambda: all((api.node(n) or {}).get("state") == "online" for n in NODES),
        timeout=60, what="three nodes online",
    )  # fmt: skip
    old = hashlib.sha256((plugin_dir / "bme680.wasm").read_bytes()).hexdigest()[:16]
    new = hashlib.sha256((plugin_dir / "bme680-adafruit.wasm").read_bytes()).hexdigest()[:16]
    assert old != new
    before = wait_until(
        lambda: (p := bme680_on_pi4(api))["version"] == old and p, timeout=60, what="bme680 runs"
    )
    assert before["deploy_sequence"] is None  # not put there by a deploy

    if lan is not None:
        lan.block("pi4")
    else:
        print("\ndeploy test: no network namespaces; pi4 keeps its link (no hold to show)")
    if lan is not None:
        wait_until(
            lambda: (api.node("pi4") or {}).get("state") == "offline",
            timeout=20, what="pi4 offline at the hub",
        )  # fmt: skip

    sent = deploy(files, processes.url, tmp_path / "out")
    print(sent.stdout)  # what the operator saw
    assert sent.returncode == 0, sent.stdout + sent.stderr
    held = api.get("/api/deploys?node=pi4")["deploys"][0]
    assert (held["plugin"], held["component"], held["world"]) == (
        "bme680",
        "bme680",
        "bme680-plugin",
    )
    if lan is not None:
        assert "pending" in sent.stdout and "node offline: held by the hub" in sent.stdout
        assert held["state"] == "pending"
        # the node's own page says so too (the dashboard's plugins view draws it)
        shown = api.get("/api/nodes/pi4")["deploys"]
        assert [(d["plugin"], d["sequence"], d["version"]) for d in shown] == [
            ("bme680", held["sequence"], new)
        ]
        assert bme680_on_pi4(api)["version"] == old  # the hub's last word from pi4
        assert (own_plugins / "bme680.wasm").is_symlink()  # nothing reached pi4
        lan.unblock("pi4")

    applied = wait_until(
        lambda: (d := api.get("/api/deploys?node=pi4")["deploys"][0])["state"] != "pending" and d,
        timeout=90, what="pi4 answered the deploy",
    )  # fmt: skip
    assert applied["state"] == "applied", applied
    assert api.get("/api/nodes/pi4")["deploys"] == []  # nothing held any more
    assert applied["version"] == new and applied["sequence"] == held["sequence"]
    cluster_key = key_id(load_private(files.cluster.deploy_key).public_key())
    assert applied["key_id"] == cluster_key
    # Running and reported, with the sequence and the key whose signature pi4 checked.
    report = wait_until(
        lambda: (p := bme680_on_pi4(api))["version"] == new and p["state"] == "running" and p,
        timeout=90, what="pi4 reports the new bme680 running",
    )  # fmt: skip
    assert report["deploy_sequence"] == held["sequence"]
    assert report["deploy_key"] == cluster_key
    on_disk = own_plugins / "bme680.wasm"
    assert not on_disk.is_symlink()
    assert on_disk.read_bytes() == (plugin_dir / "bme680-adafruit.wasm").read_bytes()
    assert (plugin_dir / "bme680.wasm").read_bytes() != on_disk.read_bytes()  # build untouched

    # Online: a key pi4 does not trust is refused (exit 1), and nothing changes on pi4.
    stranger = tmp_path / "keys"
    made = subprocess.run(
        [sys.executable, "-m", "harvester", "keys", "create", "mallory", "--dir", str(stranger)],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    refused = deploy(files, processes.url, tmp_path / "out", "bme680", "--key",
                     str(stranger / "mallory.pem"))  # fmt: skip
    print(refused.stdout)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "refused" in refused.stdout and "is not trusted" in refused.stdout
    assert on_disk.read_bytes() == (plugin_dir / "bme680-adafruit.wasm").read_bytes()
    # Online, with the cluster's key: the original driver again (a newer sequence, so
    # going back to an older build is a deploy like any other), applied at once.
    back = deploy(files, processes.url, tmp_path / "out", "bme680")
    print(back.stdout)
    assert back.returncode == 0, back.stdout + back.stderr
    assert f"applied version {old}" in back.stdout
    wait_until(
        lambda: (p := bme680_on_pi4(api))["version"] == old and p["state"] == "running",
        timeout=60, what="pi4 runs the original bme680 again",
    )  # fmt: skip
