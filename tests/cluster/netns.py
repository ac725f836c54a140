"""Network namespaces for a cluster test: one per node, joined by veth links to a bridge
in a namespace of its own (the LAN), plus one link from the test's own namespace so it
can reach the hub. `block(node)` cuts a node's link as a NixOS test's `block()` does.

Everything here is made by the test and removed after it; the addresses exist only
inside these namespaces.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

import psutil

# Names carry the test run's pid: a run that was killed leaves its namespaces and links
# behind, and the next run removes them (a stale link on the same subnet would take the
# traffic meant for the new one).
OURS = re.compile(r"^hv(\d+)(?:-|t0)")


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def remove_stale() -> None:
    """Namespaces and links an earlier, killed test run left behind."""

    def dead(name: str) -> bool:
        match = OURS.match(name)
        return match is not None and not psutil.pid_exists(int(match.group(1)))

    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for ns in (line.split()[0] for line in listed.splitlines() if line.strip()):
        if dead(ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    for link in (line.split()[0].split("@")[0] for line in links.splitlines() if line.strip()):
        if dead(link):
            subprocess.run(["ip", "link", "del", link], capture_output=True)


def why_not() -> str | None:
    """Why namespaces cannot be made here (None: they can)."""
    if os.geteuid() != 0:
        return "not root"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    probe = f"hvprobe{os.getpid() % 10000}"
    try:
        _ip("netns", "add", probe)
        _ip("netns", "del", probe)
    except OSError as exc:
        return f"cannot add a network namespace: {exc}"
    return None


@dataclass
class Lan:
    nodes: tuple[str, ...]
    tag: str = field(default_factory=lambda: f"hv{os.getpid()}")
    # A /24 of its own per run, so two runs on one machine do not meet.
    subnet: str = field(default_factory=lambda: f"10.213.{os.getpid() % 200 + 20}")
    made: list[str] = field(default_factory=list)

    @property
    def test_address(self) -> str:
        return f"{self.subnet}.254"

    def ns(self, node: str) -> str:
        return f"{self.tag}-{node}"

    def address(self, node: str) -> str:
        return f"{self.subnet}.{self.nodes.index(node) + 1}"

    def _lan_end(self, index: int) -> str:
        return f"{self.tag}l{index}"  # interface names: at most 15 characters

    def prefix(self, node: str) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.ns(node))

    def __enter__(self) -> Lan:
        remove_stale()
        try:
            lan = self.ns("lan")
            _ip("netns", "add", lan)
            self.made.append(lan)
            _ip("-n", lan, "link", "add", "br0", "type", "bridge")
            _ip("-n", lan, "link", "set", "br0", "up")
            for i, node in enumerate(self.nodes):
                ns, inner, outer = self.ns(node), f"{self.tag}n{i}", self._lan_end(i)
                _ip("netns", "add", ns)
                self.made.append(ns)
                _ip("link", "add", inner, "type", "veth", "peer", "name", outer)
                _ip("link", "set", inner, "netns", ns)
                _ip("link", "set", outer, "netns", lan)
                _ip("-n", ns, "link", "set", "lo", "up")
                _ip("-n", ns, "addr", "add", f"{self.address(node)}/24", "dev", inner)
                _ip("-n", ns, "link", "set", inner, "up")
                _ip("-n", lan, "link", "set", outer, "master", "br0", "up")
            # The test's own way in.
            here, there = f"{self.tag}t0", f"{self.tag}t1"
            _ip("link", "add", here, "type", "veth", "peer", "name", there)
            self.made.append(f"link:{here}")
            _ip("link", "set", there, "netns", lan)
            _ip("addr", "add", f"{self.test_address}/24", "dev", here)
            _ip("link", "set", here, "up")
            _ip("-n", lan, "link", "set", there, "master", "br0", "up")
        except BaseException:
            self.__exit__()
            raise
        return self

    def block(self, node: str) -> None:
        _ip("-n", self.ns("lan"), "link", "set", self._lan_end(self.nodes.index(node)), "down")

    def unblock(self, node: str) -> None:
        _ip("-n", self.ns("lan"), "link", "set", self._lan_end(self.nodes.index(node)), "up")

    def __exit__(self, *exc: object) -> None:
        for made in reversed(self.made):
            try:
                if made.startswith("link:"):
                    _ip("link", "del", made.removeprefix("link:"))
                else:
                    _ip("netns", "del", made)
            except OSError:
                pass  # gone already: removing the namespace removed its links
        self.made.clear()
