"""What the browser test and bench/bench_dashboard.py share: the reference cluster with
the dashboard set up for tests, and Debian's chromium driven by Playwright (no browser
download: `executable_path` points at the system's)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from tests.cluster.harness import ClusterFiles, write_cluster

CHROMIUM = Path("/usr/bin/chromium")
# Flags that work in a container without a display, GPU or network beyond loopback.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TRAP_PATH = "/ui/trap-for-tests"
# The dashboard's restart is held back this long after a trap, longer than the page's
# overview refresh (5 s), so an open page is sure to see the outage it must recover from.
TRAP_BACKOFF_S = 6.0


def chromium_path() -> str:
    """Debian's chromium, or an AssertionError saying how to get it (never a skip)."""
    found = CHROMIUM if CHROMIUM.is_file() else shutil.which("chromium")
    if not found:
        raise AssertionError(
            f"{CHROMIUM} is missing: the browser tests drive Debian's chromium"
            " (./harvester.sh test installs it as root; else apt-get install chromium)"
        )
    return str(found)


def launch(playwright: Any) -> Any:
    """A headless chromium Browser from a sync_playwright() context."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


def dashboard_cluster(folder: Path, plugin_dir: Path, *, poll_s: float) -> ClusterFiles:
    """The reference cluster (the examples' three nodes, free ports) whose hub runs the
    dashboard with `trap_path` set and a restart back-off a page can observe."""
    files = write_cluster(folder, plugin_dir=plugin_dir, poll_s=poll_s)
    hub = folder / "revpi.toml"
    text = hub.read_text(encoding="utf-8")
    if not re.search(r'(?m)^name = "dashboard"', text):
        raise AssertionError("examples/revpi.toml does not run the dashboard plugin")
    text = re.sub(
        r'(?m)^name = "dashboard".*$',
        f'name = "dashboard"\nsettings = {{ trap_path = "{TRAP_PATH}" }}',
        text,
        count=1,
    )
    text = re.sub(
        r'(?m)^role = "hub"$',
        f'role = "hub"\nrestart = {{ backoff_initial_s = {TRAP_BACKOFF_S} }}',
        text,
        count=1,
    )
    hub.write_text(text, encoding="utf-8")
    return files
