"""Plugins: installed packages that add commands through the `kfctl_ai.plugins` entry points.

A plugin's entry point names a `register(app)` callable that adds Typer commands to the
root app, the same callable every built-in command module exposes. A plugin that fails
to load is reported as a warning and skipped; kfai keeps working. `KFAI_PLUGINS` limits
which plugins load: a comma-separated list of entry-point names, or `none`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import typer

ENTRY_POINT_GROUP = "kfctl_ai.plugins"


@dataclass
class PluginStatus:
    name: str
    source: str  # "builtin" or the distribution that provides it
    loaded: bool
    error: str | None = None


LOADED: list[PluginStatus] = []


def register_one(app: typer.Typer, name: str, source: str, load: Callable[[], Callable[[typer.Typer], Any]]) -> None:
    """Load one plugin's `register` and call it; record the outcome instead of raising."""
    try:
        register = load()
        register(app)
    except Exception as exc:  # a broken plugin must not take kfai down
        LOADED.append(PluginStatus(name, source, False, f"{type(exc).__name__}: {exc}"))
        sys.stderr.write(f"warning: plugin '{name}' from {source} failed to load ({type(exc).__name__}: {exc}); skipped\n")
        return
    LOADED.append(PluginStatus(name, source, True))


def allowed_plugins() -> set[str] | None:
    """Names allowed by `KFAI_PLUGINS`, or None when every installed plugin may load."""
    value = os.environ.get("KFAI_PLUGINS")
    if value is None:
        return None
    names = {part.strip() for part in value.split(",") if part.strip()}
    return set() if names == {"none"} else names


def register_installed_plugins(app: typer.Typer) -> None:
    from importlib.metadata import entry_points

    allowed = allowed_plugins()
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and entry_point.name not in allowed:
            continue
        source = entry_point.dist.name if entry_point.dist else entry_point.value
        register_one(app, entry_point.name, source, entry_point.load)
