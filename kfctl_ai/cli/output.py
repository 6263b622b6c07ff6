"""One place that decides where and how things are printed.

Data goes to stdout as a table, JSON or YAML; hints, progress, warnings and errors go to
stderr. Rich turns colors off when the stream is not a terminal or `NO_COLOR` is set.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape

TableRenderer = Callable[[Console, Any], None]

# Rich assumes 80 columns when the stream is not a terminal, which folds every table;
# a pipe or a file gets long lines instead.
PIPE_WIDTH = 200


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, default=str, ensure_ascii=False)


def to_yaml(data: Any) -> str:
    import yaml

    return yaml.safe_dump(json.loads(json.dumps(data, default=str)), sort_keys=False)


def discard_stdout() -> None:
    """Send the rest of stdout to /dev/null once its reader has gone (`kfai jobs | head`).

    The command still finishes, so its exit code (a preflight's 3, say) is not lost.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


class DataConsole(Console):
    """A console for stdout that survives a closed pipe instead of exiting with code 1."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        discard_stdout()


class Output:
    def __init__(self, fmt: str = "table") -> None:
        self.format = fmt
        self.stdout = DataConsole(soft_wrap=True, width=None if sys.stdout.isatty() else PIPE_WIDTH)
        self.stderr = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else PIPE_WIDTH)
        # Set while `ask` runs a plan: step results are collected into the plan's
        # single JSON document instead of each printing its own.
        self.collected: list[Any] | None = None

    @property
    def machine(self) -> bool:
        return self.format in {"json", "yaml"}

    def emit(self, data: Any, render_table: TableRenderer | None = None) -> None:
        """Print one result: a table (or text) for people, one document for programs."""
        if self.collected is not None:
            self.collected.append(data)
            if self.machine:
                return
        try:
            if self.format == "json":
                sys.stdout.write(to_json(data) + "\n")
            elif self.format == "yaml":
                sys.stdout.write(to_yaml(data))
            elif render_table is not None:
                render_table(self.stdout, data)
            else:
                self.stdout.print(to_yaml(data), markup=False, highlight=False)
            sys.stdout.flush()
        except BrokenPipeError:
            discard_stdout()

    def lines(self, batch: list[str]) -> None:
        """Print raw lines of data (log lines) to stdout in one write, never reformatted."""
        if batch:
            try:
                sys.stdout.write("\n".join(batch) + "\n")
                sys.stdout.flush()
            except BrokenPipeError:
                discard_stdout()

    def info(self, message: str) -> None:
        self.stderr.print(message, highlight=False, markup=False)

    def warn(self, message: str) -> None:
        self.stderr.print(f"[yellow]warning:[/yellow] {escape(message)}", highlight=False)

    def error(self, message: str, hint: str | None = None) -> None:
        self.stderr.print(f"[red]error:[/red] {escape(message)}", highlight=False)
        if hint:
            self.stderr.print(f"hint: {hint}", highlight=False, markup=False)
