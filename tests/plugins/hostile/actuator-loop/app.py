"""A hostile actuator: `spin.forever` loops in its command handler. Its honest commands
(`buzzer.beep`, `led.fill`) show that grants still hold and that it recovers.

Written against the bare WIT bindings (no SDK), so the test sees the contract itself.
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import actuator
from wit_world.imports import buzzer, leds

_INT = actuator.ValueKind.INTEGER


def _param(name: str, kind: actuator.ValueKind, required: bool = True) -> actuator.Parameter:
    return actuator.Parameter(name, kind, required, "")


class Actuator(exports.Actuator):
    def init(self, settings: list[actuator.Setting]) -> None:
        pass

    def commands(self) -> list[actuator.Command]:
        return [
            actuator.Command("buzzer.beep", "one tone", [_param("pin", _INT), _param("hz", _INT)]),
            actuator.Command(
                "led.fill",
                "every granted pixel one colour",
                [_param("strip", _INT), _param("color", _INT)],
            ),
            actuator.Command("spin.forever", "never returns", []),
        ]

    def invoke(self, command: str, arguments: list[actuator.Argument]) -> list[actuator.Argument]:
        args = {a.name: a.value.value for a in arguments}
        try:
            if command == "buzzer.beep":
                buzzer.tone(args["pin"], args["hz"], 100)
                return [actuator.Argument("pin", actuator.Value_Integer(args["pin"]))]
            if command == "led.fill":
                count = leds.pixel_count(args["strip"])
                leds.show(args["strip"], [args["color"]] * count)
                return [actuator.Argument("pixels", actuator.Value_Integer(count))]
            if command == "spin.forever":
                n = 0
                while True:
                    n += 1
        except Err as err:  # a refused hardware call: report it as the contract says
            raise Err(actuator.CommandError_Hal(err.value)) from None
        raise Err(actuator.CommandError_UnknownCommand(command))
