"""`kfai commands`: every command with its arguments, options, types, defaults, risk and help."""

from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from kfctl_ai.cli.registry import command


def _table(console: Console, data: dict[str, Any]) -> None:
    for item in data["commands"]:
        console.print(f"[bold]kfai {item['command']}[/bold]  [dim]({item['risk']})[/dim]  {escape(item['help'])}", highlight=False)


def register(app: typer.Typer) -> None:
    @command(app, "commands", "read")
    def commands(ctx: typer.Context) -> Any:
        """List every kfai command as data, generated from the command tree (for agents).

        Example: kfai commands -o json
        """
        from kfctl_ai.cli.app import build_command
        from kfctl_ai.cli.schema import describe_tree

        session = ctx.obj
        data = {"commands": describe_tree(build_command()), "global_options": ["--kubeconfig", "--context", "-n/--namespace", "-o/--output", "-y/--yes", "--no-input", "--persona"]}
        session.output.emit(data, _table)
        return data
