"""A kfai plugin for the plugin tests, found through the `.dist-info` folder next to it.

Entry point `fake` adds `kfai hello` and `kfai crash`; entry point `broken` fails to load.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer


def register(app: typer.Typer) -> None:
    from kfctl_ai.cli.registry import command

    @command(app, "hello", "read")
    def hello(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Who to greet.")] = "world") -> Any:
        """Greet NAME, to show that a plugin command runs like a built-in one.

        Example: kfai hello agent -o json
        """
        data = {"greeting": f"hello {name}"}
        ctx.obj.output.emit(data, lambda console, d: console.print(d["greeting"]))
        return data

    @command(app, "crash", "read")
    def crash(ctx: typer.Context) -> None:
        """Raise an exception kfai does not expect, as a bug in a command would.

        Example: kfai crash
        """
        raise RuntimeError("the fake plugin's crash command failed on purpose")


def register_broken(app: typer.Typer) -> None:
    raise RuntimeError("the broken plugin failed on purpose")
