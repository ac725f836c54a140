"""Recording a plugin's hardware calls and replaying them as the device: the BME680 driver
(run natively here; sandboxed in tests/plugins/test_bme680_recording.py) reads exactly what
it read when recorded, and a call the recording lacks fails naming the call."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from harvester.config import PluginConfig, SimConfig
from harvester.hal import Backend, Dht22Reading, MemoryUsage
from harvester.hal.errors import BusError, HalError, NackSource, NoAcknowledge
from harvester.hal.sim.backend import SimBackend
from harvester.hal.tap import Call, ReplayMiss, TappedBackend, for_plugin, read_recording
from harvester.hal.tap import close as close_tap
from harvester.hal.tap.replay import replay_backend

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "plugins" / "bme680"))
from bme680_driver import Bme680


def bme680_node(seed: int = 7) -> SimBackend:
    # Noise makes every poll differ, so equal readings mean the right answers in order.
    return SimBackend(
        SimConfig(
            time_scale=0,
            seed=seed,
            i2c=[{"device": "bme680", "temperature_c": 23.0, "noise": {}}],
            dht22=[{"pin": 4, "failure_rate": 0.3}],
        )
    )


def driver(backend: Backend) -> Bme680:
    assert backend.i2c is not None
    i2c = backend.i2c
    return Bme680(lambda data, n: i2c.transfer(1, 0x77, data, n), backend.clock.sleep_ms)


def measure(backend: Backend, polls: int) -> list[tuple[float, ...]]:
    d = driver(backend)
    d.begin()
    out = []
    for _ in range(polls):
        m = d.measure()
        out.append((m.temperature_c, m.pressure_hpa, m.humidity_rh, m.gas_resistance_ohm))
    return out


def recorded(tmp_path: Path, backend: Backend, run: Any) -> tuple[Path, Any]:
    path = tmp_path / "r.jsonl"
    seen = for_plugin(backend, PluginConfig(name="bme680", record=path), node="pi4")
    assert isinstance(seen, TappedBackend)
    result = run(seen)
    close_tap(seen)
    return path, result


def replaying(path: Path) -> Backend:
    return for_plugin(bme680_node(seed=999), PluginConfig(name="bme680", replay=path))


def test_a_plugin_config_without_tap_keys_gets_the_backend_itself() -> None:
    backend = bme680_node()
    assert for_plugin(backend, PluginConfig(name="bme680")) is backend


def test_replayed_readings_are_exactly_the_recorded_ones(tmp_path: Path) -> None:
    path, want = recorded(tmp_path, bme680_node(), lambda b: measure(b, 5))
    assert len(set(want)) == 5  # the noise made each poll differ
    # A backend with another seed behind it: the answers can only come from the file.
    assert measure(replaying(path), 5) == want
    recording = read_recording(path)
    header = recording.header
    assert (header.node, header.plugin, header.backend) == ("pi4", "bme680", "sim")
    times = [t.t_ms for t in recording.transactions]
    assert times[0] == 0 and times == sorted(times)
    # The driver sleeps through each conversion on the sim's virtual clock: the recording
    # shows it, 5 conversions of at least the 150 ms heater time.
    assert times[-1] >= 5 * 150


def test_a_call_beyond_the_recording_fails_naming_the_call(tmp_path: Path) -> None:
    path, _ = recorded(tmp_path, bme680_node(), lambda b: measure(b, 1))
    replay = replaying(path)
    d = driver(replay)
    d.begin()
    d.measure()
    with pytest.raises(ReplayMiss) as err:
        d.measure()  # its first call is the forced-mode write: 16 + 3 + 1 calls in
    assert (
        str(err.value)
        == "replay: no recorded answer for i2c bus 1 0x77 write 748d read 0 (call 20)"
    )
    assert err.value.wit_case == "other"


def test_each_call_takes_the_next_answer_for_the_same_call(tmp_path: Path) -> None:
    # Recorded: a status register polled three times, with another device read between.
    status = Call("i2c", "transfer", {"bus": 1, "address": 0x40, "write": "f3", "read": 1})
    other = Call("i2c", "transfer", {"bus": 1, "address": 0x41, "write": "00", "read": 2})
    from harvester.hal.tap import Header, RecordingWriter, Transaction

    path = tmp_path / "r.jsonl"
    writer = RecordingWriter(path, Header(node="n", plugin="p", backend="sim", started="-"))
    for t, (call, answer) in enumerate(
        [(status, "00"), (other, "abcd"), (status, "00"), (status, "80")]
    ):
        writer.write(Transaction(t, call, result=answer))
    writer.close()
    replay, _ = replay_backend(read_recording(path))
    assert replay.i2c is not None
    # Replayed in another order: the other device first, then the status polls.
    assert replay.i2c.transfer(1, 0x41, b"\x00", 2) == b"\xab\xcd"
    assert [replay.i2c.transfer(1, 0x40, b"\xf3", 1) for _ in range(3)] == [b"\0", b"\0", b"\x80"]
    with pytest.raises(ReplayMiss, match=r"i2c bus 1 0x40 write f3 read 1 \(call 5\)"):
        replay.i2c.transfer(1, 0x40, b"\xf3", 1)  # a fourth poll: none was recorded


def test_recorded_errors_are_replayed_as_the_same_hal_error(tmp_path: Path) -> None:
    def run(backend: Backend) -> list[str]:
        assert backend.i2c is not None
        errors = []
        for address in (0x50, 0x77):
            try:
                backend.i2c.transfer(1, address, b"\xd0", 1)
            except HalError as exc:
                errors.append(f"{exc.wit_case}:{exc.wit_payload()}")
        return errors

    path, want = recorded(tmp_path, bme680_node(), run)
    assert want == ["no-acknowledge:address"]  # nothing at 0x50
    replay = replaying(path)
    assert replay.i2c is not None
    with pytest.raises(NoAcknowledge) as err:
        replay.i2c.transfer(1, 0x50, b"\xd0", 1)
    assert err.value.source is NackSource.ADDRESS
    assert replay.i2c.transfer(1, 0x77, b"\xd0", 1) == b"\x61"


def test_dht22_gpio_and_system_info_are_replayed(tmp_path: Path) -> None:
    def run(backend: Backend) -> list[object]:
        assert backend.dht22 and backend.gpio and backend.system
        out: list[object] = []
        for _ in range(6):  # failure_rate 0.3: some reads time out, and are recorded so
            backend.clock.sleep_ms(2001)  # past the sensor's 2 s, which the sim honours
            try:
                out.append(backend.dht22.read(4))
            except HalError as exc:
                out.append(type(exc).__name__)
        backend.gpio.write(17, True)
        out += [backend.gpio.read(17), backend.system.memory_usage(), backend.system.uptime_s()]
        return out

    path, want = recorded(tmp_path, bme680_node(), run)
    assert "HalTimeout" in want and any(isinstance(x, Dht22Reading) for x in want)
    assert run(replaying(path)) == want
    assert isinstance(want[-2], MemoryUsage)


def test_sleeps_in_a_replay_are_virtual(tmp_path: Path) -> None:
    path, _ = recorded(tmp_path, bme680_node(), lambda b: None)
    clock = replaying(path).clock
    before = clock.now_ms()
    clock.sleep_ms(3_600_000)  # an hour, at once: a real one would time the test out
    assert clock.now_ms() - before >= 3_600_000


def test_a_truncated_recording_replays_up_to_the_cut_and_the_plugin_is_told(
    tmp_path: Path,
) -> None:
    path, want = recorded(tmp_path, bme680_node(), lambda b: measure(b, 2))
    text = path.read_text()
    path.write_text(text[:-10])  # the last line (the second poll's field read), cut
    told: list[str] = []
    replay = for_plugin(bme680_node(), PluginConfig(name="bme680", replay=path), report=told.append)
    (line,) = told
    assert line.startswith(f"replay: {path}:") and "truncated" in line
    d = driver(replay)
    d.begin()
    m = d.measure()
    assert m.temperature_c == want[0][0]
    with pytest.raises(ReplayMiss, match="write 1d read 15"):
        d.measure()


def test_record_and_faults_together_record_the_fault_the_plugin_saw(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    config = PluginConfig.model_validate(
        {"name": "p", "record": path, "faults": [{"kind": "stuck-bus", "nth": 2, "count": 1}]}
    )
    seen = for_plugin(bme680_node(), config)
    assert seen.i2c is not None
    assert seen.i2c.transfer(1, 0x77, b"\xd0", 1) == b"\x61"
    with pytest.raises(BusError):
        seen.i2c.transfer(1, 0x77, b"\xd0", 1)
    close_tap(seen)
    replay = replaying(path)
    assert replay.i2c is not None
    assert replay.i2c.transfer(1, 0x77, b"\xd0", 1) == b"\x61"
    with pytest.raises(BusError, match="injected fault: stuck-bus"):
        replay.i2c.transfer(1, 0x77, b"\xd0", 1)


def test_a_recorded_answer_of_the_wrong_length_is_refused_naming_the_call(
    tmp_path: Path,
) -> None:
    path, _ = recorded(tmp_path, bme680_node(), lambda b: b.i2c.transfer(1, 0x77, b"\xd0", 1))
    path.write_text(path.read_text().replace('"result":"61"', '"result":"6100"'))
    replay = replaying(path)
    assert replay.i2c is not None
    with pytest.raises(ReplayMiss) as err:
        replay.i2c.transfer(1, 0x77, b"\xd0", 1)
    assert str(err.value) == (
        "replay: the recorded answer for i2c bus 1 0x77 write d0 read 1 is not valid:"
        " 2 bytes recorded"
    )
