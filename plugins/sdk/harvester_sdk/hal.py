"""Hardware errors as CircuitPython drivers expect them: an OSError with an errno.

A WIT import that fails raises `Err(hal-error)`. Third-party drivers catch OSError (the
probe in adafruit_bus_device does, and so do retry loops), so the busio shim raises
`HalOSError`: an OSError whose errno matches the failure (the guest's own errno values,
which are WASI's, not Linux's) and which carries the original `hal-error`, so `guard`
still reports it to the host as `sensor-error.hal` (or `command-error.hal`).
"""

import errno

from wit_world.imports import types

# hal-error case -> errno, as Linux's i2c-dev reports the same failures (the linux HAL
# backend maps them the other way). WASI has no EREMOTEIO: a refused address is ENXIO.
_ERRNO = {
    types.HalError_NoAcknowledge: errno.ENXIO,
    types.HalError_Timeout: errno.ETIMEDOUT,
    types.HalError_ArbitrationLoss: errno.EAGAIN,
    types.HalError_Bus: errno.EIO,
    types.HalError_Overrun: errno.EIO,
    types.HalError_NotGranted: errno.EACCES,
    types.HalError_Other: errno.EIO,
}
HAL_ERRORS = tuple(_ERRNO)


def describe(hal_error: object) -> str:
    """`no-acknowledge(address)`, `timeout`, `not-granted(i2c bus 1 address 0x3c)` ..."""
    name = type(hal_error).__name__.removeprefix("HalError_")
    case = "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")
    value = getattr(hal_error, "value", None)
    if value is None:
        return case
    shown = getattr(value, "name", value)  # an enum payload shows its name
    return f"{case}({str(shown).lower()})"


class HalOSError(OSError):
    """An OSError from a host call; `hal_error` is the WIT `hal-error` it came from."""

    def __init__(self, hal_error: object, where: str) -> None:
        code = _ERRNO.get(type(hal_error), errno.EIO)
        super().__init__(code, f"{describe(hal_error)} on {where}")
        self.hal_error = hal_error


def hal_error_in(exc: BaseException) -> object | None:
    """The `hal-error` behind `exc`: its own, or that of the exception it was raised while
    handling (a driver's probe turns the OSError into a ValueError), else None."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 4:
        if isinstance(current, HalOSError):
            return current.hal_error
        current = current.__cause__ or current.__context__
        seen += 1
    return None
