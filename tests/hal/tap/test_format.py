"""The recording file: what is written reads back the same; a damaged file reads up to the
damage and says where; a file of another format or version is refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harvester.hal.errors import HalTimeout, NackSource, NoAcknowledge
from harvester.hal.tap import (
    FORMAT_VERSION,
    Call,
    Header,
    RecordingError,
    RecordingWriter,
    Transaction,
    read_recording,
)
from harvester.hal.tap.format import ErrorRecord

HEADER = Header(node="pi4", plugin="bme680", backend="sim", started="2026-01-01T00:00:00.000+00:00")
READ_ID = Call("i2c", "transfer", {"bus": 1, "address": 0x77, "write": "d0", "read": 1})
DHT22_ANSWER = {"temperature_c": 21.3, "humidity_rh": 0.1 + 0.2}
TRANSACTIONS = (
    Transaction(0, READ_ID, result="61", duration_ms=0.05),
    Transaction(
        12,
        Call("i2c", "transfer", {"bus": 1, "address": 0x76, "write": "", "read": 2}),
        error=ErrorRecord.of(NoAcknowledge(NackSource.ADDRESS)),
    ),
    Transaction(15, Call("dht22", "read", {"pin": 4}), result=DHT22_ANSWER),
    Transaction(20, Call("system info", "cpu_temp_c"), error=ErrorRecord.of(HalTimeout("slow"))),
)  # fmt: skip


def record(path: Path, transactions=TRANSACTIONS) -> Path:
    writer = RecordingWriter(path, HEADER)
    for t in transactions:
        writer.write(t)
    writer.close()
    return path


def test_a_recording_reads_back_as_written(tmp_path: Path) -> None:
    got = read_recording(record(tmp_path / "r.jsonl"))
    assert got.header == HEADER
    assert got.transactions == TRANSACTIONS
    assert got.problem is None
    # Floats survive bit for bit (0.1 + 0.2 is not 0.3).
    assert got.transactions[2].result["humidity_rh"] == 0.1 + 0.2


def test_every_line_is_one_json_object_and_the_header_names_format_and_version(
    tmp_path: Path,
) -> None:
    lines = record(tmp_path / "r.jsonl").read_text().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "harvester-hal-recording"
    assert header["version"] == FORMAT_VERSION
    first = json.loads(lines[1])
    assert first == {
        "t_ms": 0, "capability": "i2c", "op": "transfer",
        "args": {"bus": 1, "address": 0x77, "write": "d0", "read": 1},
        "result": "61", "duration_ms": 0.05,
    }  # fmt: skip
    assert json.loads(lines[2])["error"] == {
        "case": "no-acknowledge", "payload": "address", "message": "no acknowledge (address)",
    }  # fmt: skip


def test_recorded_errors_come_back_as_the_same_hal_error() -> None:
    nack = ErrorRecord.of(NoAcknowledge(NackSource.DATA, "refused")).exception()
    assert isinstance(nack, NoAcknowledge) and nack.source is NackSource.DATA
    assert str(nack) == "refused"
    timeout = ErrorRecord.of(HalTimeout("slow")).exception()
    assert type(timeout) is HalTimeout and timeout.wit_case == "timeout"


def test_lines_are_on_disk_as_they_are_written(tmp_path: Path) -> None:
    # A crash loses at most the line being written: each line is flushed at once.
    path = tmp_path / "r.jsonl"
    writer = RecordingWriter(path, HEADER)
    writer.write(TRANSACTIONS[0])
    assert read_recording(path).transactions == TRANSACTIONS[:1]
    writer.close()
    writer.write(TRANSACTIONS[1])  # after close: dropped, not an error
    assert read_recording(path).transactions == TRANSACTIONS[:1]


def test_a_file_cut_mid_line_replays_up_to_the_cut_and_says_so(tmp_path: Path) -> None:
    path = record(tmp_path / "r.jsonl")
    text = path.read_text()
    path.write_text(text[: text.rindex("\n", 0, -1) + 20])  # the last line, cut short
    got = read_recording(path)
    assert got.transactions == TRANSACTIONS[:-1]
    assert got.problem is not None
    assert got.problem.startswith(f"{path}:5: ")
    assert "using the 3 transactions before it" in got.problem


def test_a_garbled_line_ends_the_reading_there(tmp_path: Path) -> None:
    path = record(tmp_path / "r.jsonl")
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = '{"t_ms": 12, "capability": "i2c"}\n'  # whole JSON, not a transaction
    path.write_text("".join(lines))
    got = read_recording(path)
    assert got.transactions == TRANSACTIONS[:1]
    assert got.problem is not None and got.problem.startswith(f"{path}:3: ")


def test_an_unknown_version_is_refused_naming_file_and_versions(tmp_path: Path) -> None:
    path = record(tmp_path / "r.jsonl")
    lines = path.read_text().splitlines(keepends=True)
    header = json.loads(lines[0]) | {"version": 99}
    path.write_text(json.dumps(header) + "\n" + "".join(lines[1:]))
    with pytest.raises(RecordingError) as err:
        read_recording(path)
    assert str(err.value) == (
        f"{path}: recording format version 99 is not supported (this host reads version 1)"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty, not a recording"),
        ('{"format": "something-else", "version": 1}\n', "not a recording"),
        ("t_ms,op\n", "not a recording header"),
        (
            '{"format": "harvester-hal-recording", "version": 1, "node": "n"}\n',
            "header lacks 'plugin'",
        ),
    ],
)
def test_what_is_not_a_recording_is_refused_by_name(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(content)
    with pytest.raises(RecordingError, match=message) as err:
        read_recording(path)
    assert str(path) in str(err.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match=f"cannot read recording {tmp_path / 'absent'}"):
        read_recording(tmp_path / "absent")


def test_a_recording_that_cannot_be_created_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(RecordingError, match=f"cannot record to {tmp_path / 'file' / 'r'}"):
        RecordingWriter(tmp_path / "file" / "r", HEADER)


def test_calls_are_described_as_a_person_reads_them() -> None:
    assert READ_ID.describe() == "i2c bus 1 0x77 write d0 read 1"
    write_only = Call("i2c", "transfer", {"bus": 0, "address": 0x3C, "write": "0080", "read": 0})
    assert write_only.describe() == "i2c bus 0 0x3c write 0080 read 0"
    assert Call("dht22", "read", {"pin": 4}).describe() == "dht22 read pin 4"
