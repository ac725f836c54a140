"""Errors of the hardware layer. HalError is the root; most subclasses are one case of the
WIT `hal-error` variant each. Backends raise nothing else: foreign errors (smbus2, OSError)
are converted where they enter.
"""

from __future__ import annotations

from enum import StrEnum

from harvester.hal.capabilities import Capability


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


class MissingCapability(HalError):
    """The node's backend has no such hardware at all (e.g. no I2C on this board).

    WIT case `other`, with the message (`this node has no i2c`) as payload: the plugin was
    granted the resource, so this is the node's configuration, not the plugin's fault.
    """

    def __init__(self, capability: Capability) -> None:
        super().__init__(f"this node has no {capability.value}")
        self.capability = capability


class BackendUnavailable(HalError):
    """The configured backend cannot run here, or cannot build what the config lists.

    Raised while a node starts (by `make_backend` and the backends' constructors), never to
    a plugin.
    """
