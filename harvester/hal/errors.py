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


class BusError(HalError):
    wit_case = "bus"

    def wit_payload(self) -> object:
        return None


class ArbitrationLoss(HalError):
    wit_case = "arbitration-loss"

    def wit_payload(self) -> object:
        return None


class NoAcknowledge(HalError):
    wit_case = "no-acknowledge"

    def __init__(self, source: NackSource, message: str = "") -> None:
        super().__init__(message or f"no acknowledge ({source.value})")
        self.source = source

    def wit_payload(self) -> object:
        return self.source.value


class Overrun(HalError):
    wit_case = "overrun"

    def wit_payload(self) -> object:
        return None


class HalTimeout(HalError):
    wit_case = "timeout"

    def wit_payload(self) -> object:
        return None


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
