"""A base for actuator plugins: commands declared with `@command`, arguments checked here.

    class Actuator(ActuatorBase, exports.Actuator):
        def setup(self, settings: Settings) -> None: ...      # from init; may raise BadSetting

        @command("buzzer.beep", "Beep the buzzer",
                 integer("frequency_hz", "pitch", low=20, high=20000),
                 integer("count", "how many beeps", required=False, default=1, low=1, high=10))
        def beep(self, frequency_hz: int, count: int) -> dict[str, object]:
            ...
            return {"beeps": count}      # the typed result: bool, int, float or str values

The host checks arguments against `commands()` too; the guest checks again (ranges, and
which arguments exist), since a plugin must not trust its caller. Errors become the
export's `command-error`: an unknown command, a bad argument (named), `hal` for a failed
host call (an `Err(hal-error)` or the busio shim's HalOSError), `bad-setting`,
`out-of-memory`, and `internal` for anything else. Keep plugin state at module level:
componentize-py may make more than one object of the class.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from componentize_py_types import Err
from wit_world.exports import actuator

from harvester_sdk.hal import HAL_ERRORS, hal_error_in
from harvester_sdk.settings import BadSetting, Settings
from harvester_sdk.summary import summary

Kind = actuator.ValueKind
_PYTHON = {Kind.FLAG: bool, Kind.INTEGER: int, Kind.NUMBER: float, Kind.TEXT: str}
_VALUE = {
    Kind.FLAG: actuator.Value_Flag,
    Kind.INTEGER: actuator.Value_Integer,
    Kind.NUMBER: actuator.Value_Number,
    Kind.TEXT: actuator.Value_Text,
}
_KIND_OF = {
    actuator.Value_Flag: Kind.FLAG,
    actuator.Value_Integer: Kind.INTEGER,
    actuator.Value_Number: Kind.NUMBER,
    actuator.Value_Text: Kind.TEXT,
}


@dataclass(frozen=True)
class Param:
    name: str
    kind: "actuator.ValueKind"
    description: str
    required: bool = True
    default: Any = None
    low: float | None = None
    high: float | None = None

    def check(self, value: Any) -> Any:
        too_low = self.low is not None and value < self.low
        if too_low or (self.high is not None and value > self.high):
            raise Err(
                actuator.CommandError_BadArgument(
                    f"{self.name} = {value!r}: must be between {self.low} and {self.high}"
                )
            )
        return value

    def wit(self) -> actuator.Parameter:
        return actuator.Parameter(self.name, self.kind, self.required, self.description)


def flag(name: str, description: str, **options: Any) -> Param:
    return Param(name, Kind.FLAG, description, **options)


def integer(name: str, description: str, **options: Any) -> Param:
    return Param(name, Kind.INTEGER, description, **options)


def number(name: str, description: str, **options: Any) -> Param:
    return Param(name, Kind.NUMBER, description, **options)


def text(name: str, description: str, **options: Any) -> Param:
    return Param(name, Kind.TEXT, description, **options)


def command(name: str, description: str, *params: Param) -> Callable[[Callable], Callable]:
    """Declare the decorated method as the handler of command `name`."""

    def mark(method: Callable) -> Callable:
        method._command = (name, description, params)  # type: ignore[attr-defined]
        return method

    return mark


def _value(name: str, value: Any) -> Any:
    """A Python value of a result as the WIT `value` variant."""
    if isinstance(value, bool):
        return actuator.Value_Flag(value)
    if isinstance(value, int):
        return actuator.Value_Integer(value)
    if isinstance(value, float):
        return actuator.Value_Number(value)
    if isinstance(value, str):
        return actuator.Value_Text(value)
    raise TypeError(f"result {name!r} is a {type(value).__name__}, not bool/int/float/str")


def _arguments(params: tuple[Param, ...], given: list[actuator.Argument]) -> dict[str, Any]:
    """Check `given` against `params`; their values by name, defaults filled in."""
    by_name = {p.name: p for p in params}
    values: dict[str, Any] = {}
    for arg in given:
        param = by_name.get(arg.name)
        if param is None:
            raise Err(actuator.CommandError_BadArgument(f"{arg.name}: no such argument"))
        if arg.name in values:
            raise Err(actuator.CommandError_BadArgument(f"{arg.name}: given twice"))
        kind = _KIND_OF.get(type(arg.value))
        if kind != param.kind:
            raise Err(
                actuator.CommandError_BadArgument(f"{arg.name}: must be {param.kind.name.lower()}")
            )
        values[arg.name] = param.check(arg.value.value)
    for param in params:
        if param.name not in values:
            if param.required:
                raise Err(actuator.CommandError_BadArgument(f"{param.name}: missing"))
            values[param.name] = param.default
    return values


def _command_error(exc: Exception) -> Err:
    if isinstance(exc, Err):
        if isinstance(exc.value, HAL_ERRORS):
            return Err(actuator.CommandError_Hal(exc.value))
        return exc
    if isinstance(exc, BadSetting):
        return Err(actuator.CommandError_BadSetting(str(exc)))
    hal = hal_error_in(exc)
    if hal is not None:
        return Err(actuator.CommandError_Hal(hal))
    return Err(actuator.CommandError_Internal(summary(exc)))


class ActuatorBase:
    """`init`, `commands` and `invoke` of the actuator export, from `@command` methods."""

    def setup(self, settings: Settings) -> None:
        """Read the settings; override. Raise BadSetting (Settings does) to refuse them."""

    def init(self, settings: list[actuator.Setting]) -> None:
        try:
            self.setup(Settings(settings))
        except MemoryError:
            raise Err(actuator.CommandError_OutOfMemory()) from None
        except Exception as exc:
            raise _command_error(exc) from None

    @classmethod
    def _handlers(cls) -> dict[str, tuple[str, tuple[Param, ...], Callable]]:
        found = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                spec = getattr(attr, "_command", None)
                if spec is not None:
                    name, description, params = spec
                    found[name] = (description, params, attr)
        return found

    def commands(self) -> list[actuator.Command]:
        return [
            actuator.Command(name, description, [p.wit() for p in params])
            for name, (description, params, _) in sorted(self._handlers().items())
        ]

    def invoke(self, command: str, arguments: list[actuator.Argument]) -> list[actuator.Argument]:
        handler = self._handlers().get(command)
        if handler is None:
            raise Err(actuator.CommandError_UnknownCommand(command))
        _, params, method = handler
        try:
            result = method(self, **_arguments(params, arguments)) or {}
            return [actuator.Argument(k, _value(k, v)) for k, v in result.items()]
        except MemoryError:
            raise Err(actuator.CommandError_OutOfMemory()) from None
        except Exception as exc:
            raise _command_error(exc) from None
