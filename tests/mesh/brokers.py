"""Real broker processes for tests: Debian's mosquitto (installed by the test setup).

`MosquittoProcess` starts `mosquitto -c <conf>` on a free loopback port and waits for its
"running" log line (an event, not a sleep). Tests that need users and an ACL write them
with harvester.mesh.broker (the generated config), then start the process on it.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, *, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    """Until something accepts on `port` (the broker is listening)."""
    until = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > until:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s") from None
            time.sleep(0.02)  # polling a port that is not open yet; no event exists for it


class MosquittoProcess:
    """One mosquitto process; `stop()` and `start()` again keep the same port and files."""

    def __init__(self, workdir: Path, *, port: int | None = None, conf: str | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.conf_path = workdir / "mosquitto.conf"
        self.log_path = workdir / "mosquitto.log"
        if conf is None:  # anonymous, loopback, persistent
            conf = (
                f"listener {self.port} 127.0.0.1\n"
                "allow_anonymous true\n"
                "persistence true\n"
                f"persistence_location {workdir}/\n"
                # As root, mosquitto would switch to the `mosquitto` user, who cannot
                # write its database into the test's folder.
                f"user {getpass.getuser()}\n"
                "max_queued_messages 1000000\n"
            )
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(conf)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> MosquittoProcess:
        if not Path(MOSQUITTO).exists():
            raise RuntimeError(
                "mosquitto is not installed (the test setup installs Debian's mosquitto:"
                " apt-get install mosquitto)"
            )
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf_path)], stdout=log, stderr=log, cwd=self.workdir
        )
        log.close()
        wait_for_port(self.port)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> MosquittoProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def running_as_root() -> bool:
    return os.geteuid() == 0
