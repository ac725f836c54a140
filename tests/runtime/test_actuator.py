"""What the host checks of an actuator: its command list, a request's arguments, its answers."""

from __future__ import annotations

from types import SimpleNamespace as NS
from typing import Any

import pytest
from wasmtime.component import Variant

from harvester.constants import ValueKind
from harvester.runtime.actuator import (
    Command,
    CommandRejected,
    Parameter,
    check_arguments,
    result_values,
    validate_commands,
)
from harvester.runtime.errors import PluginContractError, PluginCrashed, PluginReportedError
from harvester.runtime.guest_results import error_result

BEEP = Command(
    "buzzer.beep",
    "",
    (
        Parameter("hz", ValueKind.INTEGER, True, ""),
        Parameter("volume", ValueKind.NUMBER, False, ""),
        Parameter("loud", ValueKind.FLAG, False, ""),
        Parameter("tune", ValueKind.TEXT, False, ""),
    ),
)


def raw_command(name: str, *params: tuple[str, str]) -> NS:
    return NS(
        name=name,
        description="d",
        parameters=[NS(name=n, kind=k, required=True, description="") for n, k in params],
    )


def test_commands_are_read_into_typed_specs() -> None:
    got = validate_commands("p", [raw_command("led.set", ("index", "integer"), ("rgb", "text"))])
    assert got == (
        Command(
            "led.set",
            "d",
            (
                Parameter("index", ValueKind.INTEGER, True, ""),
                Parameter("rgb", ValueKind.TEXT, True, ""),
            ),
        ),
    )


@pytest.mark.parametrize(
    "commands,message",
    [
        ([raw_command("beep")], "must match"),
        ([raw_command("Buzzer.beep")], "must match"),
        ([raw_command("buzzer.beep"), raw_command("buzzer.beep")], "repeats a command"),
        ([raw_command("buzzer.beep", ("a", "flag"), ("a", "text"))], "repeated"),
        ([raw_command("buzzer.beep", ("A b", "flag"))], "parameter name"),
        ([raw_command(f"c.n{i}") for i in range(33)], "at most 32"),
    ],
)
def test_a_command_list_the_contract_forbids_is_a_fault(commands: list[NS], message: str) -> None:
    with pytest.raises(PluginContractError, match=message):
        validate_commands("p", commands)


def test_arguments_become_wit_values_in_declared_order() -> None:
    records = check_arguments("p", BEEP, {"tune": "abc", "hz": 440, "volume": 1, "loud": False})
    # wasmtime-py picks the `value` case by the Python type: the types must be exact.
    assert [(r.name, type(r.value), r.value) for r in records] == [
        ("hz", int, 440),
        ("volume", float, 1.0),  # an integer is a fine number, passed as a float
        ("loud", bool, False),
        ("tune", str, "abc"),
    ]


@pytest.mark.parametrize(
    "arguments,message",
    [
        ({}, "'hz' is required"),
        ({"hz": 1.5}, "'hz' must be integer"),
        ({"hz": True}, "'hz' must be integer"),
        ({"hz": 2**63}, "'hz' must be integer"),
        ({"hz": 1, "volume": float("nan")}, "'volume' must be number"),
        ({"hz": 1, "loud": 1}, "'loud' must be flag"),
        ({"hz": 1, "tune": "x" * 257}, "'tune' must be text"),
        ({"hz": 1, "colour": "red"}, "unknown argument 'colour'"),
    ],
)
def test_bad_arguments_are_rejected_naming_them(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(CommandRejected, match=message):
        check_arguments("p", BEEP, arguments)


def test_results_are_checked_named_values() -> None:
    ok = [NS(name="pixels", value=4), NS(name="on", value=True), NS(name="v", value=0.5)]
    assert result_values("p", ok) == {"pixels": 4, "on": True, "v": 0.5}
    with pytest.raises(PluginContractError, match="repeated"):
        result_values("p", ok + ok)
    with pytest.raises(PluginContractError, match="not a valid value"):
        result_values("p", [NS(name="t", value="x" * 300)])
    with pytest.raises(PluginContractError, match="not a valid value"):
        result_values("p", [NS(name="t", value=float("inf"))])


def test_command_errors_sort_into_reported_errors_and_faults() -> None:
    refused = error_result("p", Variant("hal", Variant("not-granted", "buzzer on gpio 5")))
    assert isinstance(refused, PluginReportedError)
    assert refused.detail == "hal: not-granted: buzzer on gpio 5"
    assert isinstance(error_result("p", Variant("busy", "beeping")), PluginReportedError)
    assert isinstance(error_result("p", Variant("internal", "KeyError")), PluginCrashed)
