"""`kfai config`: view and change ~/.config/kfai/config.yaml."""

from typing import Annotated, Any

import typer

from kfctl_ai.cli.registry import command


def _shown(value: Any) -> str:
    """Return a setting as the config file would spell it, or "(not set)"."""
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _print_settings(console: Any, data: dict[str, Any]) -> None:
    console.print(f"[dim]file: {data['path']}[/dim]", highlight=False)
    for key, entry in data["settings"].items():
        console.print(f"{key}: {_shown(entry['value'])}  [dim]({entry['source']})[/dim]", highlight=False)


def register(app: typer.Typer) -> None:
    group = typer.Typer(no_args_is_help=True)

    @command(group, "config view", "read")
    def view(ctx: typer.Context) -> Any:
        """Show the effective settings and where each one comes from.

        Example: kfai config view -o yaml
        """
        from kfctl_ai.core.config import config_path, effective_settings

        session = ctx.obj
        data = {"path": str(config_path()), "settings": effective_settings(session.settings)}
        session.output.emit(data, _print_settings)
        return data

    @command(group, "config get", "read")
    def get(ctx: typer.Context, key: Annotated[str, typer.Argument(help="Setting name, e.g. namespace.")]) -> Any:
        """Print one effective setting.

        Example: kfai config get namespace
        """
        from kfctl_ai.core.config import effective_settings, check_key

        session = ctx.obj
        check_key(key)
        entry = effective_settings(session.settings)[key]
        data = {"key": key, **entry}
        session.output.emit(data, lambda console, d: console.print("" if d["value"] is None else _shown(d["value"]), highlight=False))
        return data

    @command(group, "config set", "local")
    def set_(
        ctx: typer.Context,
        key: Annotated[str, typer.Argument(help="Setting name, e.g. namespace.")],
        value: Annotated[str, typer.Argument(help="New value.")],
    ) -> Any:
        """Write a setting to the config file.

        Example: kfai config set namespace team-a
        """
        from kfctl_ai.core.config import write_setting

        session = ctx.obj
        path = write_setting(key, value)
        data = {"key": key, "value": value, "path": str(path)}
        session.output.emit(data, lambda console, d: console.print(f"{d['key']} = {d['value']} (in {d['path']})", highlight=False))
        return data

    @command(group, "config unset", "local")
    def unset(ctx: typer.Context, key: Annotated[str, typer.Argument(help="Setting name.")]) -> Any:
        """Remove a setting from the config file.

        Example: kfai config unset namespace
        """
        from kfctl_ai.core.config import write_setting

        session = ctx.obj
        path = write_setting(key, None)
        data = {"key": key, "path": str(path), "removed": True}
        session.output.emit(data, lambda console, d: console.print(f"{d['key']} removed from {d['path']}", highlight=False))
        return data

    app.add_typer(group, name="config", help="View and change kfai's settings file.")
