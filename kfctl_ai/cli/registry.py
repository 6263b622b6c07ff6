"""The risk of every command, declared in code next to its definition.

The risk decides whether a command previews and asks for approval (`write`, `delete`)
and which personas may run it. `ask` has no risk of its own (`plan`): its steps do.
`local` commands only touch kfai's own files (its config), never the cluster, and are
left out of plans and agent tools.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import typer

F = TypeVar("F", bound=Callable[..., Any])

RISKS: dict[str, str] = {}


def command(group: typer.Typer, path: str, risk: str, **options: Any) -> Callable[[F], F]:
    """Register `fn` as the command `path` (for example "jobs delete") with its risk."""
    if risk not in {"read", "write", "delete", "plan", "local"}:
        raise ValueError(f"invalid risk {risk!r} for command {path!r}")

    def decorate(fn: F) -> F:
        RISKS[path] = risk
        name = path.split()[-1]
        group.command(name=name, **options)(fn)
        return fn

    return decorate


def risk_of(path: str) -> str:
    return RISKS[path]
