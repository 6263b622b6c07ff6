"""`kfai history`: plans that `kfai ask` executed."""

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from kfctl_ai.cli.registry import command


def _table(console: Console, data: dict[str, Any]) -> None:
    if not data["entries"]:
        console.print("No plans executed yet.")
        return
    for entry in data["entries"]:
        console.print(f"[bold]{entry['time']}[/bold]  {escape(entry.get('sentence') or '')}  ({entry.get('planner')}, {entry.get('approval')})", highlight=False)
        for argv, result in zip(entry.get("steps", []), entry.get("results", []) + [{}] * len(entry.get("steps", []))):
            status = result.get("status", "-") if result else "-"
            console.print(f"    {escape(' '.join(argv or []))}  -> {status}", highlight=False)
        if entry.get("error"):
            console.print(f"    [red]error:[/red] {escape(entry['error'])}", highlight=False)


def register(app: typer.Typer) -> None:
    @command(app, "history", "read")
    def history(
        ctx: typer.Context,
        limit: Annotated[int, typer.Option("--limit", min=1, help="Most recent N plans.")] = 20,
    ) -> Any:
        """List plans that `kfai ask` executed, with their approvals and results.

        Example: kfai history --limit 5 -o json
        """
        from kfctl_ai.core.history import history_path, read

        session = ctx.obj
        session.authorize("history")
        data = {"path": str(history_path()), "entries": read(limit)}
        session.output.emit(data, _table)
        return data
