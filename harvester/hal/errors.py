"""Errors of the hardware layer, one class per case of the WIT `hal-error` variant."""

from __future__ import annotations

from enum import StrEnum


class NackSource(StrEnum):
    ADDRESS = "address"
    DATA = "data"
    UNKNOWN = "unknown"


class HalError(Exception):
    """Root of hardware errors. `wit_case` is the WIT variant case it maps to."""

    wit_case = "other"

    def wit_payload(self) -> object:
        """The payload of the WIT case (None for cases without one)."""
        return str(self)


class _Bare(HalError):
    """A WIT case without a payload; the message is only for the host's log."""

    def wit_payload(self) -> object:
        return None


class BusError(_Bare):
    wit_case = "bus"


class ArbitrationLoss(_Bare):
    wit_case = "arbitration-loss"


class NoAcknowledge(HalError):
    wit_case = "no-acknowledge"

    def __init__(self, source: NackSource, message: str = "") -> None:
        super().__init__(message or f"no acknowledge ({source.value})")
        self.source = source

    def wit_payload(self) -> object:
        return self.source.value


class Overrun(_Bare):
    wit_case = "overrun"


class HalTimeout(_Bare):
    wit_case = "timeout"


class NotGranted(HalError):
    """The plugin's grant does not cover the resource; the message names the resource."""

    wit_case = "not-granted"

    def __init__(self, resource: str) -> None:
        super().__init__(resource)
        self.resource = resource

    def wit_payload(self) -> object:
        return self.resource


class HalRequestError(HalError):
    """The request itself is unacceptable (e.g. a read longer than the host allows)."""
