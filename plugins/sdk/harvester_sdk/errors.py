"""Turning Python exceptions into `sensor-error` results, so a bug is an error, not a trap."""

import functools
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from componentize_py_types import Err
from wit_world.exports import sensor
from wit_world.imports import types

F = TypeVar("F", bound=Callable[..., Any])
_HAL_ERRORS = (
    types.HalError_Bus,
    types.HalError_ArbitrationLoss,
    types.HalError_NoAcknowledge,
    types.HalError_Overrun,
    types.HalError_Timeout,
    types.HalError_NotGranted,
    types.HalError_Other,
)
_MAX_TEXT = 400


def no_device(message: str) -> Err:
    return Err(sensor.SensorError_NoDevice(message))


def invalid_data(message: str) -> Err:
    return Err(sensor.SensorError_InvalidData(message))


def bad_setting(message: str) -> Err:
    return Err(sensor.SensorError_BadSetting(message))


def _summary(exc: BaseException) -> str:
    """`Type: message (at file:line in func)`, short enough for a log line."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        where = f" (at {last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name})"
    return f"{type(exc).__name__}: {exc}"[:_MAX_TEXT] + where


def guard(method: F) -> F:
    """Wrap an export that returns `result<_, sensor-error>`."""

    @functools.wraps(method)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Err as err:
            if isinstance(err.value, _HAL_ERRORS):
                raise Err(sensor.SensorError_Hal(err.value)) from None
            raise
        except MemoryError:
            raise Err(sensor.SensorError_OutOfMemory()) from None
        except Exception as exc:
            raise Err(sensor.SensorError_Internal(_summary(exc))) from None

    return guarded  # type: ignore[return-value]
