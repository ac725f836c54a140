"""Fault injection: each kind of fault, on the call the rule names, reproducible by seed,
and reported so the plugin's log says why a call failed."""

from __future__ import annotations

from typing import Any

import pytest

from harvester.config import FaultRule, PluginConfig, SimConfig
from harvester.hal import Backend
from harvester.hal.errors import BusError, HalError, HalTimeout, NackSource, NoAcknowledge
from harvester.hal.sim.backend import SimBackend
from harvester.hal.tap import for_plugin
from tests.conftest import RecordingDevice


def faulted(*rules: dict[str, Any], told: list[str] | None = None) -> Backend:
    backend = SimBackend(SimConfig(time_scale=0, dht22=[{"pin": 4, "failure_rate": 0}]))
    backend.bus(1).attach(0x50, RecordingDevice())
    backend.bus(1).attach(0x51, RecordingDevice())
    config = PluginConfig.model_validate({"name": "p", "faults": list(rules)})
    report = told.append if told is not None else (lambda line: None)
    return for_plugin(backend, config, report=report)


def outcomes(backend: Backend, calls: int, address: int = 0x50, read: int = 4) -> list[str]:
    """What each of `calls` transfers got: `ok`, the answer's hex if it is not the device's,
    or the error's class name."""
    assert backend.i2c is not None
    out = []
    for _ in range(calls):
        try:
            answer = backend.i2c.transfer(1, address, b"\x10", read)
            out.append("ok" if answer == bytes(range(read)) else answer.hex())
        except HalError as exc:
            out.append(type(exc).__name__)
    return out


def test_no_acknowledge_on_the_nth_call_only_and_reported() -> None:
    told: list[str] = []
    backend = faulted({"kind": "no-acknowledge", "nth": 3}, told=told)
    assert outcomes(backend, 5) == ["ok", "ok", "NoAcknowledge", "ok", "ok"]
    assert told == [
        "injected fault: no-acknowledge on i2c bus 1 0x50 write 10 read 4 (call 3 of rule nth = 3)"
    ]


def test_the_error_is_the_address_case_a_driver_sees_for_an_absent_device() -> None:
    backend = faulted({"kind": "no-acknowledge", "nth": 1})
    assert backend.i2c is not None
    with pytest.raises(NoAcknowledge) as err:
        backend.i2c.transfer(1, 0x50, b"", 1)
    assert err.value.source is NackSource.ADDRESS and err.value.wit_payload() == "address"


def test_every_nth_call_up_to_count_and_only_at_the_address_named() -> None:
    backend = faulted({"kind": "timeout", "every": 2, "count": 2, "address": 0x51})
    assert outcomes(backend, 4, address=0x50) == ["ok"] * 4
    assert outcomes(backend, 8, address=0x51) == ["ok", "HalTimeout"] * 2 + ["ok"] * 4


def test_a_stuck_bus_fails_count_calls_then_recovers() -> None:
    backend = faulted({"kind": "stuck-bus", "nth": 2, "count": 3})
    assert outcomes(backend, 6) == ["ok", "BusError", "BusError", "BusError", "ok", "ok"]


def test_a_stuck_bus_without_count_stays_stuck() -> None:
    backend = faulted({"kind": "stuck-bus", "nth": 2})
    assert outcomes(backend, 50) == ["ok"] + ["BusError"] * 49


def test_probability_faults_are_reproducible_by_seed() -> None:
    rule = {"kind": "timeout", "probability": 0.3, "seed": 11}
    first = outcomes(faulted(rule), 200)
    assert first == outcomes(faulted(rule), 200)
    assert 30 <= first.count("HalTimeout") <= 90  # about 60 of 200
    assert first != outcomes(faulted(rule | {"seed": 12}), 200)


def test_a_stuck_bus_from_a_probability_is_reproducible() -> None:
    rule = {"kind": "stuck-bus", "probability": 0.05, "count": 4, "seed": 3}
    first = outcomes(faulted(rule), 300)
    assert first == outcomes(faulted(rule), 300)
    assert "BusError" in first
    runs = "".join("x" if o == "BusError" else "." for o in first).split(".")
    assert all(len(run) % 4 == 0 for run in runs)  # stuck for 4 calls at a time


def test_corrupt_flips_one_bit_of_the_real_answer_reproducibly() -> None:
    told: list[str] = []
    rule = {"kind": "corrupt", "every": 3, "seed": 5}
    got = outcomes(faulted(rule, told=told), 9, read=16)
    assert got == outcomes(faulted(rule), 9, read=16)
    for index, outcome in enumerate(got):
        if index % 3 != 2:
            assert outcome == "ok"
            continue
        flipped = int.from_bytes(bytes.fromhex(outcome)) ^ int.from_bytes(bytes(range(16)))
        assert flipped.bit_count() == 1
    assert len(told) == 3 and "bit" in told[0] and "flipped" in told[0]


def test_corrupt_counts_only_transfers_that_read() -> None:
    backend = faulted({"kind": "corrupt", "nth": 2})
    assert backend.i2c is not None
    for _ in range(3):
        assert backend.i2c.transfer(1, 0x50, b"\x01\x02", 0) == b""  # writes pass
    first, second, third = outcomes(backend, 3)
    assert (first, third) == ("ok", "ok") and second != "ok"  # the second read


def test_dht22_and_gpio_faults() -> None:
    backend = faulted(
        {"kind": "timeout", "on": "dht22", "nth": 2},
        {"kind": "stuck-bus", "on": "gpio", "nth": 1, "count": 2},
    )
    assert backend.dht22 is not None and backend.gpio is not None
    backend.dht22.read(4)
    with pytest.raises(HalTimeout, match="injected fault: timeout on dht22 read pin 4"):
        backend.dht22.read(4)
    backend.dht22.read(4)
    for _ in range(2):
        with pytest.raises(HalTimeout):
            backend.gpio.read(17)
    backend.gpio.write(17, True)
    assert backend.gpio.read(17) is True
    assert outcomes(backend, 3) == ["ok"] * 3  # i2c untouched


def test_the_first_rule_that_fires_wins_and_each_counts_its_own_calls() -> None:
    backend = faulted({"kind": "timeout", "nth": 2}, {"kind": "stuck-bus", "nth": 2, "count": 1})
    # Call 2: both fire; the first (timeout) is raised, and the second has counted its call.
    assert outcomes(backend, 3) == ["ok", "HalTimeout", "ok"]


def test_a_rule_reads_back_its_trigger() -> None:
    assert FaultRule(kind="timeout", every=10).trigger == "every = 10"
    assert BusError.wit_case == "bus"
