"""The probing hostile plugins (open-socket, read-file) do what they say: every attempt is
logged once with the host's answer, and the reading counts the attempts that worked.

What the host must answer (nothing allowed) is the containment tests' business
(tests/runtime/test_containment.py); these hold whatever it answers.
"""

from __future__ import annotations

import re

import pytest

from harvester.config import SimConfig
from harvester.hal.sim.backend import SimBackend

pytestmark = pytest.mark.wasm

VERDICT = re.compile(r"^(?P<what>.+?): (?P<verdict>ALLOWED|denied)\b")
SOCKET_CALLS = ["create-tcp-socket", "create-udp-socket", "resolve-addresses"]
PATHS = ["/etc/passwd", "/etc/hostname", "/proc/self/environ", ".", "/", "/tmp", "plugin.toml"]


def verdicts(caplog: pytest.LogCaptureFixture, plugin: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for record in caplog.records:
        if record.name == f"harvester.plugin.{plugin}" and (m := VERDICT.match(record.message)):
            assert m["what"] not in found, f"{m['what']} logged twice"
            found[m["what"]] = m["verdict"]
    return found


def poll_once(instantiate, plugin: str) -> float:
    instance = instantiate(plugin, SimBackend(SimConfig(time_scale=0)))
    instance.init({})
    [reading] = instance.poll()
    assert reading.metric == "value"
    return reading.value


def test_open_socket_tries_each_socket_call(instantiate, caplog) -> None:
    caplog.set_level("INFO", logger="harvester.plugin")
    value = poll_once(instantiate, "open-socket")
    seen = verdicts(caplog, "open-socket")
    assert sorted(seen) == sorted(SOCKET_CALLS)
    assert value == sum(v == "ALLOWED" for v in seen.values())


def test_read_file_tries_every_path_both_ways(instantiate, caplog) -> None:
    caplog.set_level("INFO", logger="harvester.plugin")
    value = poll_once(instantiate, "read-file")
    seen = verdicts(caplog, "read-file")
    attempts = [f"{verb} {path!r}" for path in PATHS for verb in ("open", "listdir")]
    assert sorted(seen) == sorted(attempts)
    assert value == sum(v == "ALLOWED" for v in seen.values())
