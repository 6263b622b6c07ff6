"""Walk and parse the click command tree behind the Typer app.

Plan steps, the `commands` listing and the LLM tool schema all come from here, so a
planned step is accepted exactly when the same typed command line would be.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import typer

from kfctl_ai.cli.argv import hoist_global_options
from kfctl_ai.cli.registry import RISKS

# Global options that a plan step may set, by their plan argument name.
STEP_GLOBAL_OPTIONS = {"namespace": "-n"}
# Options that exist for people at a terminal and have no place in a plan.
HIDDEN_IN_PLANS = {"help"}


@dataclass
class CommandInfo:
    path: str
    command: Any  # the click command
    risk: str

    @property
    def params(self) -> list[Any]:
        return [p for p in self.command.params if p.name not in HIDDEN_IN_PLANS]

    def help(self) -> str:
        text = (self.command.help or "").strip()
        return text.split("\n\n")[0].replace("\n", " ")


def walk(root: Any) -> list[CommandInfo]:
    """List every command path with a declared risk, in tree order (`runtimes`, `runtimes show`, ...)."""
    ctx = typer.Context(root, info_name="kfai")
    found: list[CommandInfo] = []

    def visit(command: Any, path: list[str]) -> None:
        name = " ".join(path)
        if path and name in RISKS:
            found.append(CommandInfo(name, command, RISKS[name]))
        list_commands = getattr(command, "list_commands", None)
        if list_commands is None:
            return
        for child in list_commands(ctx):
            visit(command.get_command(ctx, child), [*path, child])

    visit(root, [])
    return found


def find(root: Any, path: str) -> CommandInfo | None:
    return next((info for info in walk(root) if info.path == path), None)


def option_name(param: Any) -> str:
    """Return the long spelling of an option (`--batch-size`), or its only one."""
    longs = [o for o in param.opts if o.startswith("--")]
    return (longs or param.opts)[0]


@dataclass
class ParsedCommand:
    path: str
    params: dict[str, Any]
    global_params: dict[str, Any]


def parse(root: Any, args: list[str]) -> ParsedCommand:
    """Parse a kfai command line (without `kfai`) with click; raise click's usage errors."""
    args = hoist_global_options(args)
    prefix = _global_prefix_length(args)
    ctx = root.make_context("kfai", list(args[: prefix + 1]))
    global_params = {k: v for k, v in ctx.params.items() if v not in (None, False)}

    remaining = list(args[prefix:])
    command = root
    path: list[str] = []
    while hasattr(command, "resolve_command") and remaining and not remaining[0].startswith("-"):
        name, command, remaining = command.resolve_command(ctx, remaining)
        path.append(name)
    if not path:
        raise typer.BadParameter("no kfai command given; see `kfai --help`")
    sub_ctx = command.make_context(" ".join(path), list(remaining), parent=ctx)
    return ParsedCommand(" ".join(path), dict(sub_ctx.params), global_params)


def _global_prefix_length(args: list[str]) -> int:
    """Count the leading tokens that are global options, after `hoist_global_options`."""
    from kfctl_ai.cli.argv import FLAG_OPTIONS, VALUE_OPTIONS

    index = 0
    while index < len(args):
        token = args[index]
        if token in VALUE_OPTIONS and index + 1 < len(args):
            index += 2
        elif token in FLAG_OPTIONS:
            index += 1
        else:
            break
    return index
