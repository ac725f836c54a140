"""A one-line account of an exception, for `internal` errors (sensor or actuator)."""

import traceback

_MAX_TEXT = 400


def summary(exc: BaseException) -> str:
    """`Type: message (at file:line in func)`, short enough for a log line."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        where = f" (at {last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name})"
    return f"{type(exc).__name__}: {exc}"[:_MAX_TEXT] + where
