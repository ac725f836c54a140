"""Hostile: tries to read host files and list host folders, counting what worked.

The sandbox preopens no directories, so every attempt should fail: the reading `value`
is the number of successes (0 in the sandbox). Each outcome is logged.
"""

import os

from harvester_sdk import SensorBase, guard, log, metric, reading
from wit_world import exports
from wit_world.exports import sensor

PATHS = ["/etc/passwd", "/etc/hostname", "/proc/self/environ", ".", "/", "/tmp", "plugin.toml"]


def _read(path: str) -> str:
    with open(path, "rb") as f:
        return f"read {len(f.read())} bytes"


def _list(path: str) -> str:
    return f"listed {len(os.listdir(path))} entries"


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def poll(self) -> list[sensor.Reading]:
        successes = 0
        for path in PATHS:
            for verb, attempt in (("open", _read), ("listdir", _list)):
                try:
                    outcome = attempt(path)
                except Exception as exc:  # every failure is the expected outcome: log it
                    log.info(f"{verb} {path!r}: denied ({type(exc).__name__}: {exc})")
                    continue
                successes += 1
                log.info(f"{verb} {path!r}: ALLOWED, {outcome}")
        return [reading("value", successes)]
