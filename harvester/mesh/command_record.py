"""The node's record of the commands it received: what makes a command run at most once.

A request's id is written (state "running") and committed before the command runs, and
its result after. A redelivered id is answered from here, never run again, also after
the node restarts; an id still "running" when the record is opened was cut off by a
crash or a stop, and is answered `failed` rather than run again.

The file is small and written once or twice per command, so it is used from the event
loop directly (a commit is a few milliseconds; commands are rare).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Final

from harvester.mesh.payloads import (
    CommandError,
    CommandRequest,
    CommandResult,
    PayloadError,
    decode,
)

# Records older than this are deleted when the record is opened: a request cannot be
# redelivered after its expiry anyway (the node answers `expired` without running it).
KEEP_S: Final = 7 * 86_400.0
INTERRUPTED: Final = "interrupted by a restart; not retried"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY,
    command TEXT NOT NULL,
    plugin TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('running', 'done')),
    received_at REAL NOT NULL,
    result BLOB
)
"""


class CommandRecord:
    """One node's command record in `path` (SQLite, WAL). Close it when done."""

    def __init__(self, path: Path, *, node: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._node = node
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: the "running" row must be on disk before the command runs.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)
        self.interrupted = self._settle_interrupted()
        self._db.execute("DELETE FROM commands WHERE received_at < ?", (time.time() - KEEP_S,))

    def _settle_interrupted(self) -> int:
        rows = self._db.execute(
            "SELECT id, command, plugin FROM commands WHERE state = 'running'"
        ).fetchall()
        for id_, command, plugin in rows:
            result = CommandResult(
                id=id_,
                node=self._node,
                command=command,
                plugin=plugin,
                ok=False,
                error=CommandError(code="failed", message=INTERRUPTED),
                at=time.time(),
            )
            self.finish(result)
        return len(rows)

    def begin(self, request: CommandRequest) -> bool:
        """Record `request` as running; False if its id is already recorded."""
        try:
            self._db.execute(
                "INSERT INTO commands (id, command, plugin, state, received_at)"
                " VALUES (?, ?, ?, 'running', ?)",
                (request.id, request.command, request.plugin or "", time.time()),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def finish(self, result: CommandResult) -> None:
        """Record the answer to `result.id` (inserting the row if it has none yet)."""
        self._db.execute(
            "INSERT INTO commands (id, command, plugin, state, received_at, result)"
            " VALUES (?, ?, ?, 'done', ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET state = 'done', result = excluded.result",
            (
                result.id,
                result.command,
                result.plugin,
                time.time(),
                result.model_dump_json().encode(),
            ),
        )

    def lookup(self, id_: str) -> CommandResult | str | None:
        """The recorded answer to `id_`; "running" while it runs; None if never seen."""
        row = self._db.execute(
            "SELECT state, result, command, plugin FROM commands WHERE id = ?", (id_,)
        ).fetchone()
        if row is None:
            return None
        state, raw, command, plugin = row
        if state == "running":
            return "running"
        try:
            return decode(CommandResult, raw)
        except PayloadError as exc:  # our own file; say so rather than run it again
            return CommandResult(
                id=id_,
                node=self._node,
                command=command,
                plugin=plugin,
                ok=False,
                error=CommandError(code="failed", message=f"unreadable record: {exc}"),
                at=time.time(),
            )

    def close(self) -> None:
        self._db.close()
