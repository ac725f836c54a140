"""The recording file format: JSON Lines, a header line and then one line per hardware
transaction (docs/recording.md). Written a line at a time, so a crash loses at most the
line being written; read back up to the first line that is not whole.
"""

from __future__ import annotations

import json
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from harvester.hal.capabilities import Capability, Dht22Reading, DiskUsage, MemoryUsage
from harvester.hal.errors import (
    ArbitrationLoss,
    BackendUnavailable,
    BusError,
    HalError,
    HalTimeout,
    NackSource,
    NoAcknowledge,
    NotGranted,
    Overrun,
)

FORMAT: Final = "harvester-hal-recording"
FORMAT_VERSION: Final = 1

Json = Any  # what json.loads returns: the recording's own values are checked where used


class RecordingError(BackendUnavailable):
    """A recording cannot be written or read; the message names the file (and line).

    A BackendUnavailable: it stops a node from starting, and is never raised to a plugin.
    """


@dataclass(frozen=True)
class Call:
    """One call into a capability, as the recording keys it: the arguments are JSON values
    (bytes as hex), so two calls are the same call exactly when their lines would be."""

    capability: str
    op: str
    args: Mapping[str, Json] = field(default_factory=dict)

    def key(self) -> str:
        return json.dumps([self.capability, self.op, self.args], sort_keys=True)

    def describe(self) -> str:
        """The call as a person reads it: `i2c bus 1 0x77 write 1d read 1`."""
        a = self.args
        if self.capability == Capability.I2C:
            return (
                f"i2c bus {a['bus']} {a['address']:#04x} write {a['write'] or '-'} read {a['read']}"
            )
        shown = " ".join(f"{k} {v}" for k, v in a.items())
        return f"{self.capability} {self.op}" + (f" {shown}" if shown else "")


@dataclass(frozen=True)
class ErrorRecord:
    """A HalError as recorded: its WIT case, the case's payload and the host's message."""

    case: str
    payload: Json
    message: str

    @classmethod
    def of(cls, exc: HalError) -> ErrorRecord:
        return cls(exc.wit_case, exc.wit_payload(), str(exc))

    def exception(self) -> HalError:
        """The same HalError again (case and payload; the message as recorded)."""
        bare: dict[str, type[HalError]] = {
            "bus": BusError,
            "arbitration-loss": ArbitrationLoss,
            "overrun": Overrun,
            "timeout": HalTimeout,
        }
        if self.case in bare:
            return bare[self.case](self.message)
        if self.case == "no-acknowledge":
            return NoAcknowledge(NackSource(self.payload), self.message)
        if self.case == "not-granted":
            return NotGranted(str(self.payload))
        return HalError(self.message)


@dataclass(frozen=True)
class Transaction:
    """One line after the header: when (ms after the recording began, on the backend's
    clock), which call, what came back (`result`) or what was raised (`error`), how long
    the backend took (real ms)."""

    t_ms: int
    call: Call
    result: Json = None
    error: ErrorRecord | None = None
    duration_ms: float = 0.0

    def to_json(self) -> dict[str, Json]:
        line: dict[str, Json] = {
            "t_ms": self.t_ms,
            "capability": self.call.capability,
            "op": self.call.op,
            "args": dict(self.call.args),
        }
        if self.error is None:
            line["result"] = self.result
        else:
            line["error"] = {
                "case": self.error.case,
                "payload": self.error.payload,
                "message": self.error.message,
            }
        line["duration_ms"] = self.duration_ms
        return line

    @classmethod
    def from_json(cls, line: Json) -> Transaction:
        """Raises KeyError, TypeError or ValueError for a line that is not a transaction."""
        error = line.get("error")
        return cls(
            t_ms=int(line["t_ms"]),
            call=Call(str(line["capability"]), str(line["op"]), dict(line["args"])),
            result=line.get("result"),
            error=None if error is None else ErrorRecord(**error),
            duration_ms=float(line.get("duration_ms", 0.0)),
        )


@dataclass(frozen=True)
class Header:
    node: str
    plugin: str
    backend: str
    started: str  # ISO 8601, UTC
    version: int = FORMAT_VERSION

    def to_json(self) -> dict[str, Json]:
        return {
            "format": FORMAT,
            "version": self.version,
            "node": self.node,
            "plugin": self.plugin,
            "backend": self.backend,
            "started": self.started,
        }


@dataclass(frozen=True)
class Recording:
    """A recording as read: its header, its whole transactions, and `problem` (None, or
    what stopped the reading early: a truncated or garbled line, named by number)."""

    path: Path
    header: Header
    transactions: tuple[Transaction, ...]
    problem: str | None = None


# How each capability's results become JSON and back, by (capability, op). Ops missing
# here return nothing (None).
_Codec = tuple[Callable[[Any], Json], Callable[[Json], Any]]
_RESULTS: Final[dict[tuple[str, str], _Codec]] = {
    (Capability.I2C, "transfer"): (bytes.hex, bytes.fromhex),
    (Capability.GPIO, "read"): (bool, bool),
    (Capability.DHT22, "read"): (lambda r: r._asdict(), lambda j: Dht22Reading(**j)),
    (Capability.SYSTEM_INFO, "memory_usage"): (lambda r: r._asdict(), lambda j: MemoryUsage(**j)),
    (Capability.SYSTEM_INFO, "disk_usage"): (lambda r: r._asdict(), lambda j: DiskUsage(**j)),
    (Capability.SYSTEM_INFO, "cpu_usage_percent"): (float, float),
    (Capability.SYSTEM_INFO, "cpu_temp_c"): (float, float),
    (Capability.SYSTEM_INFO, "uptime_s"): (int, int),
    (Capability.LEDS, "pixel_count"): (int, int),
}


def encode_result(call: Call, value: Any) -> Json:
    codec = _RESULTS.get((call.capability, call.op))
    return None if codec is None else codec[0](value)


def decode_result(call: Call, value: Json) -> Any:
    """Raises ValueError, TypeError or KeyError for a value of the wrong shape."""
    codec = _RESULTS.get((call.capability, call.op))
    return None if codec is None else codec[1](value)


def _dumps(value: Json) -> str:
    # Floats are written with repr, so a replayed reading is bit-for-bit the recorded one.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False) + "\n"


class RecordingWriter:
    """Appends transactions to a new recording, one flushed line each; `close` fsyncs.

    Thread-safe: a plugin's instance thread writes, the node closes. If a write fails
    (disk full), the recording stops there and `on_error` is told once; the plugin's
    hardware calls go on regardless.
    """

    def __init__(
        self, path: Path, header: Header, *, on_error: Callable[[str], None] = lambda _: None
    ) -> None:
        """Raises RecordingError when the file cannot be created."""
        self.path = path
        self._on_error = on_error
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Line buffered: every transaction reaches the OS as it happens.
            self._file: IO[str] | None = path.open("w", encoding="utf-8", buffering=1)
            self._file.write(_dumps(header.to_json()))
        except OSError as exc:
            raise RecordingError(f"cannot record to {path}: {exc.strerror or exc}") from exc
        # Closed (and synced) at exit at the latest, if nobody closes it before.
        self._finalizer = weakref.finalize(self, _close, self._file)

    def write(self, transaction: Transaction) -> None:
        with self._lock:
            if self._file is None:
                return
            try:
                self._file.write(_dumps(transaction.to_json()))
            except OSError as exc:
                self._file = None
                self._finalizer()
                self._on_error(f"recording to {self.path} stopped: {exc.strerror or exc}")

    def close(self) -> None:
        """Flush, fsync and close; later writes are dropped. Idempotent."""
        with self._lock:
            self._file = None
            self._finalizer()


def _close(file: IO[str]) -> None:
    try:
        file.flush()
        os.fsync(file.fileno())
    except (OSError, ValueError):
        pass  # already closed, or the disk is gone: nothing more can be saved
    finally:
        file.close()


def read_recording(path: Path) -> Recording:
    """Read a recording. A line that is not whole JSON (a crash mid-write) or not a
    transaction ends the reading there; `Recording.problem` says which line and why.

    Raises RecordingError, naming the file, when it cannot be read, is empty, does not
    start with a header of this format, or has a version this host does not know.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RecordingError(f"cannot read recording {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise RecordingError(f"{path}: not a recording (not UTF-8 text)") from exc
    lines = text.splitlines(keepends=True)
    if not lines:
        raise RecordingError(f"{path}: empty, not a recording")
    header = _header(path, lines[0])
    transactions: list[Transaction] = []
    problem = None
    for number, line in enumerate(lines[1:], start=2):
        try:
            if not line.endswith("\n"):
                raise ValueError("truncated (no end of line)")
            transactions.append(Transaction.from_json(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            problem = (
                f"{path}:{number}: {exc}; using the {len(transactions)} transactions before it"
            )
            break
    return Recording(path, header, tuple(transactions), problem)


def _header(path: Path, line: str) -> Header:
    try:
        raw = json.loads(line)
    except ValueError as exc:
        raise RecordingError(f"{path}:1: not a recording header: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise RecordingError(f'{path}:1: not a recording (no "format": "{FORMAT}")')
    version = raw.get("version")
    if version != FORMAT_VERSION:
        raise RecordingError(
            f"{path}: recording format version {version!r} is not supported"
            f" (this host reads version {FORMAT_VERSION})"
        )
    try:
        return Header(
            node=str(raw["node"]),
            plugin=str(raw["plugin"]),
            backend=str(raw["backend"]),
            started=str(raw["started"]),
        )
    except KeyError as exc:
        raise RecordingError(f"{path}:1: header lacks {exc.args[0]!r}") from exc
