"""The kfai command tree: one root with global options, and one module per command group.

The tree built here is the single definition of every operation: typed command lines,
`ask` plan steps and the generated listings all go through it.
"""

from functools import cache
from typing import Annotated, Optional

import typer

from kfctl_ai import __version__
from kfctl_ai.cli import completion

GLOBAL_HELP = "Global options go before or after the subcommand: -n, -o, --context, --kubeconfig, -y, --no-input, --persona."


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"kfai {__version__}")
        raise typer.Exit()


def root(
    ctx: typer.Context,
    kubeconfig: Annotated[Optional[str], typer.Option("--kubeconfig", help="Path of the kubeconfig file (default: $KUBECONFIG or ~/.kube/config).")] = None,
    context: Annotated[Optional[str], typer.Option("--context", autocompletion=completion.complete_contexts, help="Kubeconfig context to use (default: its current context).")] = None,
    namespace: Annotated[Optional[str], typer.Option("-n", "--namespace", help="Namespace to act in (default: the context's namespace, else 'default').")] = None,
    output: Annotated[Optional[str], typer.Option("-o", "--output", autocompletion=completion.complete_output_formats, help="Output format: table, json or yaml (default: table).")] = None,
    yes: Annotated[bool, typer.Option("-y", "--yes", help="Approve every change without asking.")] = False,
    no_input: Annotated[bool, typer.Option("--no-input", help="Never prompt; anything that needs approval exits with code 7.")] = False,
    persona: Annotated[Optional[str], typer.Option("--persona", autocompletion=completion.complete_personas, help="readonly, data-scientist, ml-engineer or platform-admin (default: data-scientist).")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for unexpected errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Train models on Kubeflow Trainer by saying what you want.

    Example: kfai ask "train llama 3.2 on alpaca, 3 epochs"
    """
    from kfctl_ai.cli.output import Output
    from kfctl_ai.cli.session import Session
    from kfctl_ai.core.config import load_settings

    parent = ctx.obj if isinstance(ctx.obj, Session) else None
    flags = {
        "kubeconfig": kubeconfig,
        "context": context,
        "namespace": namespace,
        "output": output,
        "persona": persona,
        "no_input": no_input or None,
    }
    if parent is None:
        settings = load_settings(**flags).with_overrides(yes=yes or None, debug=debug or None)
        ctx.obj = Session(settings=settings, output=Output(settings.output))
    else:
        # A planned step inherits the plan's settings; only what the step names changes.
        settings = parent.settings.with_overrides(**flags)
        ctx.obj = Session(settings=settings, output=parent.output, approved=parent.approved, max_output=parent.max_output, in_plan=True)


def create_app() -> typer.Typer:
    """Build the root app and register the built-in command groups, then plugins."""
    app = typer.Typer(
        name="kfai",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback(epilog=GLOBAL_HELP)(root)
    completion.enable_shell_completion()

    from kfctl_ai.cli.commands import register_builtin_commands
    from kfctl_ai.cli.plugins import register_installed_plugins

    register_builtin_commands(app)
    register_installed_plugins(app)
    return app


@cache
def build_command() -> typer.main.TyperGroup:  # type: ignore[name-defined]
    """Build the click command tree behind the app, once per process."""
    from kfctl_ai.cli.coercion import use_plain_conversion

    command = typer.main.get_command(create_app())
    use_plain_conversion(command)
    return command
