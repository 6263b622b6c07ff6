"""Built-in command groups. Each module's `register(app)` adds its commands to the root app."""

from __future__ import annotations

import typer


def register_builtin_commands(app: typer.Typer) -> None:
    from kfctl_ai.cli.commands import ask, finetune, jobs, logs, preflight, runtimes

    for module in (runtimes, preflight, finetune, logs, jobs, ask):
        module.register(app)
