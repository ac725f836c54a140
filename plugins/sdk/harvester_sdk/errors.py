"""Turning Python exceptions into `sensor-error` results, so a bug is an error, not a trap."""

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from componentize_py_types import Err
from wit_world.exports import sensor

from harvester_sdk.hal import HAL_ERRORS, hal_error_in
from harvester_sdk.settings import BadSetting
from harvester_sdk.summary import summary

F = TypeVar("F", bound=Callable[..., Any])


def no_device(message: str) -> Err:
    return Err(sensor.SensorError_NoDevice(message))


def invalid_data(message: str) -> Err:
    return Err(sensor.SensorError_InvalidData(message))


def bad_setting(message: str) -> Err:
    return Err(sensor.SensorError_BadSetting(message))


def guard(method: F) -> F:
    """Wrap an export that returns `result<_, sensor-error>`: a `hal-error` (an `Err` from
    an import, or the busio shim's HalOSError, also behind a driver's own exception)
    becomes `hal`, a BadSetting `bad-setting`, MemoryError `out-of-memory`, anything else
    `internal` with a one-line summary."""

    @functools.wraps(method)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Err as err:
            if isinstance(err.value, HAL_ERRORS):
                raise Err(sensor.SensorError_Hal(err.value)) from None
            raise
        except MemoryError:
            raise Err(sensor.SensorError_OutOfMemory()) from None
        except BadSetting as exc:
            raise Err(sensor.SensorError_BadSetting(str(exc))) from None
        except Exception as exc:
            hal = hal_error_in(exc)
            if hal is not None:
                raise Err(sensor.SensorError_Hal(hal)) from None
            raise Err(sensor.SensorError_Internal(summary(exc))) from None

    return guarded  # type: ignore[return-value]
