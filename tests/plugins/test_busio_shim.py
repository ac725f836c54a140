"""The SDK's busio shim, seen from outside the sandbox: a test plugin (busio-probe) uses
it as CircuitPython drivers do and reports what it saw."""

from __future__ import annotations

import pytest

from harvester.config import SimConfig
from harvester.hal.sim.backend import SimBackend
from harvester.hal.sim.bme680 import Bme680Sim

pytestmark = pytest.mark.wasm


def test_scan_slices_errnos_and_sleep(instantiate) -> None:
    backend = SimBackend(SimConfig(time_scale=0))
    backend.bus(1).attach(0x77, Bme680Sim(backend.clock))
    # 0x76 is granted but nothing answers there; 0x50 is not granted.
    plugin = instantiate("busio-probe", backend, {"i2c": [{"bus": 1, "addresses": [0x76, 0x77]}]})
    plugin.init({})
    got = {r.metric: r.value for r in plugin.poll()}
    assert got["scan_count"] == 1 and got["scan_first"] == 0x77  # only what answers, granted
    assert got["chip_id"] == 0x61  # the write's slice [1:] sent 0xD0; the read landed in [1:2]
    assert got["untouched"] == 1.0  # the rest of the buffer kept its bytes
    assert got["absent_is_enxio"] == 1.0  # no-acknowledge -> OSError(ENXIO)
    assert got["ungranted_is_eacces"] == 1.0  # not-granted -> OSError(EACCES)
    # time.sleep(0.25) went through the host's clock (the sim's virtual clock credits it).
    assert got["slept_ms"] >= 250
