"""`harvester demo`: starts the cluster, says where to look, and a Ctrl-C stops every
process it started (the nodes and the hub's broker child), leaving nothing running."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.cluster.harness import Api, write_cluster

pytestmark = [pytest.mark.wasm, pytest.mark.cluster]


def started_from(folder: Path) -> list[psutil.Process]:
    """Processes whose command line names a file in `folder` (the nodes, the broker)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(str(folder) in part for part in process.info["cmdline"] or ()):
            found.append(process)
    return found


def test_ctrl_c_stops_everything(plugin_dir: Path, tmp_path: Path) -> None:
    files = write_cluster(tmp_path, plugin_dir=plugin_dir)
    demo = subprocess.Popen(
        [sys.executable, "-m", "harvester", "demo", "--cluster", str(files.cluster_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    lines = []
    for line in demo.stdout:  # until it says it runs (or ends)
        lines.append(line)
        if line.startswith("running."):
            break
    assert lines and lines[-1].startswith("running."), "".join(lines)
    assert f"http://127.0.0.1:{files.web_port}/api/nodes" in lines[-1]
    assert Api(f"http://127.0.0.1:{files.web_port}").get("/api/health")["ok"]
    running = started_from(tmp_path)
    assert len(running) >= 4  # three nodes and the hub's broker child
    demo.send_signal(signal.SIGINT)
    rest, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, rest
    assert "nothing left running" in rest
    for name in ("revpi", "pi4", "pizero"):
        assert f"{name} stopped cleanly" in rest
    _gone, alive = psutil.wait_procs(running, timeout=5)
    assert alive == [], f"left running: {[p.info['cmdline'] for p in alive]}"
