"""Diff-style previews of what a command will create or delete, and the approval gate.

A write shows the resource as `+` lines, a delete as `-` lines, followed by the
equivalent kfai command line. Approval is requested on the terminal. `--yes` gives it,
and `--dry-run` stops after the preview. With no terminal (or with `--no-input`) kfai
exits 7 instead of hanging or assuming yes.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from kfctl_ai.core.errors import NeedsConfirmationError


@dataclass
class Change:
    """One resource a command would create (`+`) or delete (`-`)."""

    action: str  # "create" or "delete"
    kind: str
    name: str
    namespace: str
    body: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "kind": self.kind, "name": self.name, "namespace": self.namespace, "object": self.body}


def command_line(argv: list[str]) -> str:
    return shlex.join(argv)


def render_change(console: Console, change: Change) -> None:
    import yaml

    sign, style = ("+", "green") if change.action == "create" else ("-", "red")
    console.print(Text(f"{sign} {change.kind} {change.namespace}/{change.name}", style=f"bold {style}"))
    text = yaml.safe_dump(change.body, sort_keys=False, width=100) if change.body else ""
    for line in text.rstrip("\n").splitlines():
        console.print(Text(f"{sign}   {line}", style=style))


def ask_approval(question: str) -> bool:
    """Ask yes/no on the terminal, drawing the prompt on stderr so stdout stays data."""
    import questionary
    from prompt_toolkit.output import create_output

    # auto_enter=False: a stray "y" inside another word must not approve a change.
    answer = questionary.confirm(question, default=False, auto_enter=False, output=create_output(stdout=sys.stderr)).ask()
    if answer is None:  # Ctrl-C at the prompt
        raise KeyboardInterrupt
    return bool(answer)


def require_approval(
    session: Any,
    question: str,
    preview: dict[str, Any],
    dry_run: bool = False,
) -> bool:
    """Return True to go ahead, False after a dry run; raise when approval is missing."""
    if dry_run:
        return False
    if session.approved or session.settings.yes:
        return True
    if not session.interactive:
        reason = "--no-input is set" if session.settings.no_input else "stdin is not a terminal"
        raise NeedsConfirmationError(
            f"approval needed but not given: {reason}",
            hint="rerun with --yes to approve, or with --dry-run to preview only",
            status="needs_confirmation",
            **{key: value for key, value in preview.items() if key != "status"},
        )
    if ask_approval(question):
        return True
    raise NeedsConfirmationError("declined: nothing was changed", status="declined")


def print_command_line(console: Console, argv: list[str]) -> None:
    console.print(f"[dim]equivalent command:[/dim] {escape(command_line(argv))}", highlight=False)


def preview_and_approve(
    session: Any,
    preview: dict[str, Any],
    question: str,
    dry_run: bool,
    render: Any,
    outcome: str = "created",
) -> bool:
    """Show a write's preview, then ask; return True to apply it.

    People see `render()` on stdout; programs get `preview` as the one JSON document of a
    dry run. Inside `ask` the plan's preview was already shown, so nothing is repeated.
    """
    if not session.output.machine and not session.approved:
        render()
    if require_approval(session, question, preview, dry_run):
        return True
    if session.output.machine:
        session.output.emit(preview)
    elif not session.in_plan:
        session.output.info(f"Dry run: nothing was {outcome}.")
    return False


def print_created(console: Console, data: dict[str, Any]) -> None:
    console.print(
        f"Created TrainJob {data['namespace']}/{data['job']} on runtime {data['runtime']}.\n"
        f"Follow it with: kfai logs {data['job']} -f",
        highlight=False,
    )
