"""Convert option values of the plain types without importing pydantic.

typer 0.29 converts every parameter value through a pydantic TypeAdapter, so the first
command that parses a value imports pydantic: about 120 ms on a 2-core machine, more than
typer's own import. kfai's options are strings, integers, floats, flags, string choices
and repeated strings. For those, a value that is already well formed has one obvious
result, and kfai converts it here. Anything else (a malformed number, a value out of
range, a choice in the wrong case) goes to typer's own conversion, so the result and the
error message stay typer's.

NOTE: this sets `_runtime_param`, the private slot where typer 0.29 caches a parameter's
converter. pyproject pins typer below 0.30; tests/test_coercion.py compares both
converters on the same values and fails when typer changes the slot or its behaviour.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, get_args, get_origin

from typer import _click
from typer._click.exceptions import BadParameter
from typer._coercion import RuntimeParam, build_runtime_param
from typer.core import _TyperParameter

# Shapes whose result is the same in Python and pydantic. Leading zeros, underscores,
# spaces, non-ASCII digits, "inf" and "nan" go to typer, which decides them its own way.
_INTEGER = re.compile(r"[+-]?[1-9][0-9]{0,17}|0")
_DECIMAL = re.compile(r"[+-]?(?:[1-9][0-9]{0,17}|0)(?:\.[0-9]{1,17})?")

_UNDECIDED = object()


def _plain_str(value: Any, _: Any) -> Any:
    return value if isinstance(value, str) else _UNDECIDED


def _plain_flag(value: Any, _: Any) -> Any:
    return value if isinstance(value, bool) else _UNDECIDED


def _in_range(number: Any, info: Any) -> bool:
    return (info.min is None or number >= info.min) and (info.max is None or number <= info.max)


def _plain_int(value: Any, info: Any) -> Any:
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        value = int(value)
    elif isinstance(value, bool) or not isinstance(value, int):
        return _UNDECIDED
    return value if _in_range(value, info) else _UNDECIDED


def _plain_float(value: Any, info: Any) -> Any:
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        value = float(value)
    elif isinstance(value, float):
        pass
    else:
        return _UNDECIDED
    return value if _in_range(value, info) else _UNDECIDED


def _not_finite(value: Any) -> bool:
    """Tell whether a value reads as infinity or NaN ("inf", "-Infinity", "nan", "1e400")."""
    try:
        number = float(value.replace("_", "") if isinstance(value, str) else value)
    except (TypeError, ValueError):
        return False
    return not math.isfinite(number)


def _plain_strings(value: Any, _: Any) -> Any:
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return list(value)
    return _UNDECIDED


def _plain_choice(choices: tuple[str, ...]) -> Callable[[Any, Any], Any]:
    def convert(value: Any, _: Any) -> Any:
        return value if isinstance(value, str) and value in choices else _UNDECIDED

    return convert


def _plain_converter(annotation: Any, info: Any) -> Callable[[Any, Any], Any] | None:
    """Return the plain converter for an annotation, or None to leave it to typer."""
    if info.parser is not None:
        return None
    if get_origin(annotation) is Literal:
        choices = get_args(annotation)
        if info.case_sensitive and all(isinstance(choice, str) for choice in choices):
            return _plain_choice(choices)
        return None
    if get_origin(annotation) is list and get_args(annotation) == (str,):
        return _plain_strings
    return {str: _plain_str, bool: _plain_flag, int: _plain_int, float: _plain_float}.get(annotation)


@dataclass(frozen=True)
class PlainRuntimeParam(RuntimeParam):
    """A typer converter that converts plain values itself and passes the rest to typer."""

    convert: Callable[[Any, Any], Any] = field(default=_plain_str)
    # typer's own converter, built the first time a value needs it.
    fallback: list[RuntimeParam] = field(default_factory=list, compare=False)

    def _coerce_value(self, value: Any, param: _TyperParameter, ctx: _click.Context) -> Any:
        if self.annotation is float and _not_finite(value):
            # typer accepts "inf", which no kfai option means and JSON output cannot carry.
            raise BadParameter(f"{value!r} is not a finite number.", ctx=ctx, param=param)
        result = self.convert(value, self.parameter_info)
        if result is not _UNDECIDED:
            return result
        if not self.fallback:
            self.fallback.append(build_runtime_param(param.type_descriptor))
        return self.fallback[0]._coerce_value(value, param=param, ctx=ctx)


def plain_runtime_param(param: _click.Parameter) -> PlainRuntimeParam | None:
    """Return a plain converter for one parameter, or None when typer must convert it."""
    descriptor = getattr(param, "type_descriptor", None)
    if not isinstance(param, _TyperParameter) or descriptor is None:
        return None
    if descriptor.file_annotation is not None or descriptor.is_path:
        return None
    convert = _plain_converter(descriptor.annotation, descriptor.parameter_info)
    if convert is None:
        return None
    return PlainRuntimeParam(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation, convert=convert)


@dataclass(frozen=True)
class _HelpNames:
    """The one field of a click context that `Command.get_help_option` reads."""

    help_option_names: list[str]


def use_plain_conversion(command: _click.Command, help_names: list[str] | None = None) -> None:
    """Give every parameter in the tree under `command` the plain converter where it fits.

    `help_names` are the help option names the command inherits from its parent context.
    """
    help_names = command.context_settings.get("help_option_names", help_names or ["--help"])

    # click makes the help option on first use and keeps it, and typer converts the flag's
    # unset value (None) through pydantic. Making it here lets it get the plain converter.
    params = [*command.params, command.get_help_option(_HelpNames(help_names))]
    for param in params:
        plain = plain_runtime_param(param) if param is not None else None
        if plain is not None and param._runtime_param is None:
            param._runtime_param = plain
    for sub in getattr(command, "commands", {}).values():
        use_plain_conversion(sub, help_names)
