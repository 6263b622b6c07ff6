"""kfai's plain option conversion gives typer's results without importing pydantic.

Every parameter of the real command tree is converted twice, by typer's own converter and
by kfai's, on values users type and values that typer must reject. Results and error
messages must be the same. A typer release that changes its conversion fails here.
"""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

import pytest
from typer import _click
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param

from kfctl_ai.cli.app import build_command
from kfctl_ai.cli.coercion import PlainRuntimeParam, plain_runtime_param

STRINGS = ["abc", "", " spaced ", "ünïcode", "-", "3"]
INTEGERS = ["3", "0", "1", "-2", "+3", "007", "1_000", " 4 ", "3.0", "3.5", "abc", "", "1e3",
            "99999999999999999999", "１２", 3, 0, -5, 2.5, True]
FLOATS = ["0.5", "2e-5", "1E5", "-0", "3.", ".5", "1_0", "abc", "", " 1.5 ", "１", "0.0001", "-3.25",
          "1e3", 2.5, 3, True]
# typer accepts these for a float, and kfai rejects them: no option means infinity or NaN.
NOT_FINITE = ["inf", "-inf", "+Infinity", "nan", "NaN", "1e400", " inf ", float("inf"), float("nan")]


def tree_parameters() -> list[tuple[str, _click.Command, _click.Parameter]]:
    """Return every parameter in the tree with the command that owns it, help options included."""
    found = []

    def visit(command: _click.Command, path: str) -> None:
        context = _click.Context(command, info_name=path)
        for param in [*command.params, command.get_help_option(context)]:
            if param is not None:
                found.append((f"{path} {param.name}", command, param))
        for name, sub in getattr(command, "commands", {}).items():
            visit(sub, f"{path} {name}")

    visit(build_command(), "kfai")
    return found


def samples(annotation: Any) -> list[Any]:
    if get_origin(annotation) is Literal:
        choices = list(get_args(annotation))
        return [*choices, *(choice.upper() for choice in choices), "nope", ""]
    if get_origin(annotation) is list:
        return [("a", "b"), (), ["x"], ("a", 1)]
    return {str: STRINGS, int: INTEGERS, float: FLOATS, bool: [True, False, None, "yes", "0"]}.get(annotation, ["x"])


def outcome(converter: Any, param: _click.Parameter, context: _click.Context, value: Any) -> tuple[str, Any]:
    """Return the converted value with its type, or the error message a user would see."""
    try:
        result = converter.coerce(value, param=param, ctx=context)
    except BadParameter as error:
        return "error", error.message
    return "value", (result, type(result))


PARAMETERS = tree_parameters()


def test_tree_parameter_kinds_are_sampled() -> None:
    kinds = {param.type_descriptor.annotation for _, _, param in PARAMETERS}
    # A new kind of parameter (a Path, an Enum) needs samples here before it is trusted.
    assert {str, int, float, bool} <= kinds
    assert any(get_origin(kind) is Literal for kind in kinds)
    assert any(get_origin(kind) is list for kind in kinds)


@pytest.mark.parametrize(("label", "command", "param"), PARAMETERS, ids=[label for label, _, _ in PARAMETERS])
def test_plain_conversion_matches_typer(label: str, command: _click.Command, param: _click.Parameter) -> None:
    plain = plain_runtime_param(param)
    assert plain is not None, f"{label} ({param.type_descriptor.annotation}) is left to pydantic"
    typer_own = build_runtime_param(param.type_descriptor)
    context = _click.Context(command, info_name=label)

    for value in samples(param.type_descriptor.annotation):
        assert outcome(plain, param, context, value) == outcome(typer_own, param, context, value), f"{label} on {value!r}"


FLOAT_PARAMETERS = [(label, command, param) for label, command, param in PARAMETERS if param.type_descriptor.annotation is float]


@pytest.mark.parametrize(("label", "command", "param"), FLOAT_PARAMETERS, ids=[label for label, _, _ in FLOAT_PARAMETERS])
def test_float_options_reject_not_finite(label: str, command: _click.Command, param: _click.Parameter) -> None:
    plain = plain_runtime_param(param)
    context = _click.Context(command, info_name=label)

    for value in NOT_FINITE:
        assert outcome(plain, param, context, value) == ("error", f"{value!r} is not a finite number."), f"{label} on {value!r}"


def parameter(label: str) -> tuple[_click.Command, _click.Parameter]:
    return next((command, param) for name, command, param in PARAMETERS if name == label)


@pytest.mark.parametrize(("label", "value", "expected"), [
    ("kfai fine-tune epochs", "3", 3),
    ("kfai preflight gpu_memory", "79.6", 79.6),
    ("kfai logs tail", "100", 100),
    ("kfai fine-tune method", "lora", "lora"),
    ("kfai jobs status", "Running", "Running"),
    ("kfai namespace", "team-a", "team-a"),
])
def test_well_formed_values_never_reach_pydantic(label: str, value: str, expected: Any) -> None:
    command, param = parameter(label)
    plain = plain_runtime_param(param)
    assert isinstance(plain, PlainRuntimeParam)

    converted = plain.coerce(value, param=param, ctx=_click.Context(command))

    assert converted == expected
    assert plain.fallback == [], f"{label} on {value!r} went to typer's converter"


def test_out_of_range_value_gets_typers_message() -> None:
    command, param = parameter("kfai fine-tune epochs")
    plain = plain_runtime_param(param)

    with pytest.raises(BadParameter) as raised:
        plain.coerce("0", param=param, ctx=_click.Context(command))

    assert "greater than or equal to 1" in raised.value.message
    assert len(plain.fallback) == 1


def test_built_tree_uses_plain_converters() -> None:
    unconverted = [label for label, _, param in PARAMETERS if not isinstance(param._runtime_param, PlainRuntimeParam)]

    assert unconverted == []
