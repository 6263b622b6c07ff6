"""`kfai ask`: a sentence becomes a plan of kfai commands, previewed and approved, then run."""

import shlex
import sys
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from kfctl_ai.cli.preview import command_line, require_approval
from kfctl_ai.cli.registry import RISKS

_RISK_STYLE = {"read": "green", "write": "yellow", "delete": "red"}
DEFAULT_MAX_OUTPUT = 50


def render_plan(console: Console, plan: Any) -> None:
    console.print(f"[bold]Plan[/bold] ({plan.planner} planner) for: {escape(plan.sentence)}", highlight=False)
    for number, step in enumerate(plan.steps, start=1):
        style = _RISK_STYLE[step.risk]
        console.print(f"  {number}. [{style}]{step.risk:<6}[/] {escape(command_line(step.argv))}", highlight=False)
    for note in plan.notes:
        console.print(f"[dim]{escape(note)}[/dim]")


def make_plan(session: Any, sentence: str, compact: bool | None) -> Any:
    """Plan with the LLM when one is configured, else with the offline parser."""
    from kfctl_ai.ask.plan import Plan, validate_steps
    from kfctl_ai.cli.app import build_command

    root = build_command()
    if session.settings.llm_model:
        from kfctl_ai.ask.llm import plan_with_llm

        return plan_with_llm(sentence, session.settings, root, compact=compact, on_progress=session.output.info)

    from kfctl_ai.ask.offline import plan_sentence

    offline = plan_sentence(sentence)
    if not offline.steps:
        from kfctl_ai.core.errors import UsageError

        raise UsageError(offline.message or f"kfai could not plan '{sentence}'", hint="set KFAI_LLM_MODEL to plan with an LLM, or run a kfai command directly (kfai --help)", understood=offline.understood)
    steps, notes = validate_steps(offline.steps, root)
    return Plan(sentence=sentence, planner="offline", steps=steps, notes=list(offline.warnings) + notes)


def _run_step(session: Any, argv: list[str]) -> Any:
    """Run one validated step through the command tree, exactly as if it were typed."""
    from kfctl_ai.cli.app import build_command

    root = build_command()
    return root.main(args=argv[1:], prog_name="kfai", standalone_mode=False, obj=session)


def preview_steps(session: Any, plan: Any) -> list[dict[str, Any]]:
    """Dry-run every write and delete step to show what it would change; pin job names."""
    previews: list[dict[str, Any]] = []
    for step in plan.steps:
        if step.risk == "read" or any(token.startswith("$steps[") for token in step.argv):
            continue
        preview = _run_step(session, step.argv + ["--dry-run"])
        if isinstance(preview, dict):
            previews.append(preview)
            for change in preview.get("changes", []):
                if change["action"] == "create" and "--name" not in step.argv:
                    # The approved name is the one that gets created.
                    step.argv += ["--name", change["name"]]
    return previews


def register(app: typer.Typer) -> None:
    RISKS["ask"] = "plan"

    @app.command(name="ask")
    def ask(
        ctx: typer.Context,
        sentence: Annotated[str, typer.Argument(help="What you want, in a sentence.")],
        plan_only: Annotated[bool, typer.Option("--plan-only", help="Print the plan and stop.")] = False,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan and its preview, change nothing.")] = False,
        confirm_reads: Annotated[bool, typer.Option("--confirm-reads", help="Ask before running a read-only plan too.")] = False,
        max_output: Annotated[int, typer.Option("--max-output", min=1, help="Most log lines a step prints.")] = DEFAULT_MAX_OUTPUT,
        compact: Annotated[Optional[bool], typer.Option("--compact/--full-schema", help="Compact prompt for small local LLMs (default: on for ollama/ models).", show_default=False)] = None,
    ) -> Any:
        """Plan kfai commands from a sentence, preview them, and run them after approval.

        Example: kfai ask "train llama 3.2 on alpaca, 3 epochs"
        """
        from kfctl_ai.core.personas import check_command

        session = ctx.obj
        output = session.output
        plan = make_plan(session, sentence, compact)
        if plan.usage:
            output.info(_usage_line(plan.usage))

        if plan_only:
            output.emit(plan.to_dict(), lambda console, data: render_plan(console, plan))
            return plan.to_dict()

        for step in plan.steps:
            check_command(session.settings.persona, step.command, step.risk)

        if not output.machine:
            render_plan(output.stdout, plan)
        output.collected = [] if output.machine else None
        previews = preview_steps(session, plan)
        output.collected = None

        document: dict[str, Any] = {"plan": plan.to_dict(), "previews": previews}
        needs_approval = plan.risk != "read" or confirm_reads
        if dry_run:
            document["status"] = "preview"
            output.emit(document, lambda console, data: console.print("Dry run: nothing was changed."))
            _point_at_cluster(session)
            return document
        approval = "not needed (read-only plan)"
        if needs_approval:
            approval = "--yes" if session.settings.yes else "approved at the prompt"
            plan, document = approve_plan(session, plan, document)

        results = _execute(session, plan, max_output, approval)

        document["plan"] = plan.to_dict()
        document["results"] = results
        document["status"] = "done"
        if output.machine:
            output.emit(document)
        return document


def approve_plan(session: Any, plan: Any, document: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Ask yes, no or edit; an edit re-validates and re-previews the plan before asking again."""
    if session.settings.yes or not session.interactive:
        require_approval(session, "", document)  # --yes passes; no terminal raises exit 7
        return plan, document

    import questionary
    from prompt_toolkit.output import create_output

    from kfctl_ai.ask.plan import edit_step
    from kfctl_ai.cli.app import build_command
    from kfctl_ai.core.errors import NeedsConfirmationError, UsageError

    terminal = create_output(stdout=sys.stderr)
    while True:
        choice = questionary.select(
            f"Run these {len(plan.steps)} step(s)?", choices=["yes", "no", "edit a step"], output=terminal
        ).ask()
        if choice is None:  # Ctrl-C at the prompt
            raise KeyboardInterrupt
        if choice == "yes":
            return plan, document
        if choice != "edit a step":
            raise NeedsConfirmationError("declined: nothing was changed", status="declined")

        labels = [f"{n}. {command_line(step.argv)}" for n, step in enumerate(plan.steps, start=1)]
        picked = questionary.select("Which step?", choices=labels, output=terminal).ask()
        if picked is None:
            continue
        text = questionary.text("Options to change (for example --epochs 5 --batch-size 8):", output=terminal).ask() or ""
        try:
            plan = edit_step(plan, labels.index(picked), shlex.split(text), build_command())
        except (UsageError, typer.TyperException, ValueError) as exc:
            session.output.error(getattr(exc, "message", None) or str(exc))
            continue
        render_plan(session.output.stdout, plan)
        previews = preview_steps(session, plan)
        document = {"plan": plan.to_dict(), "previews": previews}


def _execute(session: Any, plan: Any, max_output: int, approval: str) -> list[dict[str, Any]]:
    """Run the approved steps in order; record the plan in the history, failed or not."""
    from kfctl_ai.ask.plan import resolve_references
    from kfctl_ai.core import history

    output = session.output
    results: list[dict[str, Any]] = []
    session.approved = True
    session.max_output = max_output
    output.collected = [] if output.machine else None
    try:
        for step in plan.steps:
            argv = resolve_references(step.argv, results)
            if not output.machine:
                output.info(f"running: {command_line(argv)}")
            result = _run_step(session, argv)
            if isinstance(result, int) and not isinstance(result, bool) and result != 0:
                # A step that ends with an exit code (preflight: does not fit) ends the plan with it.
                raise typer.Exit(result)
            results.append(result if isinstance(result, dict) else {})
    except BaseException as exc:
        message = getattr(exc, "message", None) or type(exc).__name__
        history.record(plan.to_dict(), approval, results, error=f"step {len(results) + 1}: {message}")
        raise
    finally:
        output.collected = None
    history.record(plan.to_dict(), approval, results)
    return results


def _usage_line(usage: dict[str, Any]) -> str:
    line = f"LLM usage: {usage['prompt_tokens']} prompt + {usage['completion_tokens']} completion tokens"
    if "cost_usd" in usage:
        line += f", ${usage['cost_usd']:.4f}"
    return line


def _point_at_cluster(session: Any) -> None:
    if not session.has_kubeconfig():
        session.output.info("No cluster configured. Point kfai at one with --kubeconfig PATH or KUBECONFIG, then run without --dry-run.")
