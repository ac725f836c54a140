"""The `actuator` export: `init` once, `commands` once, then `invoke` per command.

The host checks a command against what the plugin described before the guest sees it
(unknown command, unknown or missing argument, wrong kind: `CommandRejected`, the
caller's mistake), and checks what the guest answers (names, kinds, counts). Error
results are sorted as the sensor's are: `out-of-memory` and `internal` are faults (the
instance must go), the others are reported errors (the instance is fine).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

from wasmtime.component import Record, Variant

from harvester.constants import (
    COMMAND_NAME_PATTERN,
    IFACE_ACTUATOR,
    PARAMETER_NAME_PATTERN,
    ValueKind,
)
from harvester.runtime.errors import (
    PluginContractError,
    PluginError,
)
from harvester.runtime.guest_results import SettingValue, error_result, settings_arg
from harvester.runtime.host_api import record

if TYPE_CHECKING:
    from harvester.runtime.plugin import PluginInstance

ArgValue = bool | int | float | str
MAX_COMMANDS = 32
MAX_PARAMETERS = 16
MAX_RESULTS = 64
MAX_TEXT = 256  # a text argument or result value, in characters
MAX_DESCRIPTION = 200
S64 = (-(2**63), 2**63 - 1)
_KIND_OF = {
    bool: ValueKind.FLAG,
    int: ValueKind.INTEGER,
    float: ValueKind.NUMBER,
    str: ValueKind.TEXT,
}
_COMMAND = re.compile(COMMAND_NAME_PATTERN)
_PARAMETER = re.compile(PARAMETER_NAME_PATTERN)


class CommandRejected(PluginError):
    """The host refused a command before the plugin saw it (unknown command, bad argument).
    Not the plugin's fault: it names what was wrong with the request."""


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: ValueKind
    required: bool
    description: str


@dataclass(frozen=True)
class Command:
    name: str
    description: str
    parameters: tuple[Parameter, ...]


def _text(plugin: str, what: str, value: Any, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise PluginContractError(plugin, f"{what} must be text of at most {limit} characters")
    return value


def validate_commands(plugin: str, raw: Any) -> tuple[Command, ...]:
    """What `commands()` returned, checked. Raises PluginContractError."""
    if not isinstance(raw, list) or len(raw) > MAX_COMMANDS:
        raise PluginContractError(plugin, f"commands() must return at most {MAX_COMMANDS}")
    commands = []
    for rec in raw:
        name = rec.name
        if not isinstance(name, str) or not _COMMAND.match(name):
            raise PluginContractError(
                plugin, f"command name {name!r} must match {COMMAND_NAME_PATTERN}"
            )
        params = rec.parameters
        if len(params) > MAX_PARAMETERS:
            raise PluginContractError(plugin, f"{name}: more than {MAX_PARAMETERS} parameters")
        parameters = []
        for p in params:
            if not isinstance(p.name, str) or not _PARAMETER.match(p.name):
                raise PluginContractError(
                    plugin, f"{name}: parameter name {p.name!r} must match {PARAMETER_NAME_PATTERN}"
                )
            what = f"{name}.{p.name} description"
            parameters.append(
                Parameter(
                    p.name,
                    ValueKind(p.kind),
                    bool(p.required),
                    _text(plugin, what, p.description, MAX_DESCRIPTION),
                )
            )
        if len({p.name for p in parameters}) != len(parameters):
            raise PluginContractError(plugin, f"{name}: a parameter name is repeated")
        description = _text(plugin, f"{name} description", rec.description, MAX_DESCRIPTION)
        commands.append(Command(name, description, tuple(parameters)))
    if len({c.name for c in commands}) != len(commands):
        raise PluginContractError(plugin, "commands() repeats a command name")
    return tuple(commands)


def _fits(value: object, kind: ValueKind) -> TypeGuard[ArgValue]:
    if kind is ValueKind.FLAG:
        return isinstance(value, bool)
    if kind is ValueKind.INTEGER:
        return isinstance(value, int) and not isinstance(value, bool) and S64[0] <= value <= S64[1]
    if kind is ValueKind.NUMBER:
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    return isinstance(value, str) and len(value) <= MAX_TEXT


def check_arguments(
    plugin: str, command: Command, arguments: Mapping[str, ArgValue]
) -> list[Record]:
    """The arguments as WIT records, in the order the plugin declared its parameters.

    Raises CommandRejected naming the argument that is unknown, missing or of the wrong
    kind."""
    declared = {p.name: p for p in command.parameters}
    unknown = sorted(set(arguments) - set(declared))
    if unknown:
        raise CommandRejected(plugin, f"{command.name}: unknown argument {unknown[0]!r}")
    out = []
    for p in command.parameters:
        if p.name not in arguments:
            if p.required:
                raise CommandRejected(plugin, f"{command.name}: argument {p.name!r} is required")
            continue
        value = arguments[p.name]
        if not _fits(value, p.kind):
            raise CommandRejected(
                plugin, f"{command.name}: argument {p.name!r} must be {p.kind}, got {value!r}"
            )
        # `value`'s cases carry four different Python types, so wasmtime-py passes the
        # plain value and picks the case by type: a number must be a float to be one.
        out.append(record(name=p.name, value=float(value) if p.kind is ValueKind.NUMBER else value))
    return out


def result_values(plugin: str, raw: Any) -> dict[str, ArgValue]:
    """The named values a command returned, checked. Raises PluginContractError."""
    if not isinstance(raw, list) or len(raw) > MAX_RESULTS:
        raise PluginContractError(plugin, f"a command result holds at most {MAX_RESULTS} values")
    values: dict[str, ArgValue] = {}
    for rec in raw:
        name, value = rec.name, rec.value
        if not isinstance(name, str) or not _PARAMETER.match(name) or name in values:
            raise PluginContractError(plugin, f"result name {name!r} is invalid or repeated")
        kind = _KIND_OF.get(type(value))  # plain values, as in check_arguments
        if kind is not None and _fits(value, kind):
            values[name] = value
        else:
            raise PluginContractError(plugin, f"result {name!r} is not a valid value")
    return values


class ActuatorExport:
    """A plugin's `actuator` interface. Every call runs under the instance's deadline.

    Raises PluginLoadError (from the instance) if a function is missing.
    """

    INTERFACE = IFACE_ACTUATOR

    def __init__(self, instance: PluginInstance) -> None:
        self.instance = instance
        self._init = instance.func(IFACE_ACTUATOR, "init")
        self._commands = instance.func(IFACE_ACTUATOR, "commands")
        self._invoke = instance.func(IFACE_ACTUATOR, "invoke")

    def init(self, settings: dict[str, SettingValue]) -> None:
        """Raises PluginFault, or PluginReportedError if the plugin refuses its settings."""
        result = self.instance.call(self._init, settings_arg(settings))
        if isinstance(result, Variant):
            raise error_result(self.instance.name, result)

    def commands(self) -> tuple[Command, ...]:
        """Raises PluginFault, PluginContractError included."""
        return validate_commands(self.instance.name, self.instance.call(self._commands))

    def invoke(self, command: str, arguments: list[Record]) -> dict[str, ArgValue]:
        """Run one command whose arguments `check_arguments` made.

        Raises PluginFault (the instance is dead) or PluginReportedError (the plugin
        refused or failed the command; it is fine).
        """
        result = self.instance.call(self._invoke, command, arguments)
        if isinstance(result, Variant):
            raise error_result(self.instance.name, result)
        return result_values(self.instance.name, result)
