"""The entry point and the one error boundary: every failure becomes one line and an exit code."""

from __future__ import annotations

import json
import sys

from kfctl_ai import __version__
from kfctl_ai.cli.argv import FLAG_OPTIONS, VALUE_OPTIONS, hoist_global_options
from kfctl_ai.core.errors import ExitCode, KfaiError

INTERRUPTED_MESSAGE = "interrupted: nothing more was sent to the cluster"


def _asks_for_version(args: list[str]) -> bool:
    """Return whether click would only print the version for these hoisted `args`.

    That is the case when `--version` comes before the subcommand and before any help
    option, with only known global options ahead of it. Every other command line, including
    `kfai jobs --version` (an invalid option there), goes through the full parser.
    """
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--version":
            return True
        if token in VALUE_OPTIONS:
            index += 2
            continue
        if token not in FLAG_OPTIONS:
            return False
        index += 1
    return False


def _requested_format(args: list[str]) -> str:
    for index, token in enumerate(args):
        if token in {"-o", "--output"} and index + 1 < len(args):
            return args[index + 1]
        if token.startswith("--output="):
            return token.split("=", 1)[1]
    import os

    return os.environ.get("KFAI_OUTPUT", "table")


def _print_error(fmt: str, message: str, hint: str | None, payload: dict[str, object] | None = None) -> None:
    from kfctl_ai.cli.output import Output

    Output(fmt).error(message, hint)
    if fmt == "json" and payload is not None:
        sys.stdout.write(json.dumps(payload, default=str) + "\n")


def _command_path(root: object, args: list[str]) -> str:
    """Return the command that `args` name ("kfai fine-tune"), for errors click raises without one."""
    path = ["kfai"]
    group = root
    index = 0
    while index < len(args):
        token = args[index]
        index += 2 if token in VALUE_OPTIONS else 1
        if token.startswith("-"):
            continue
        sub = getattr(group, "commands", {}).get(token)
        if sub is None:
            break
        path.append(token)
        group = sub
    return " ".join(path)


def run(args: list[str]) -> int:
    """Run kfai with `args` (without the program name) and return the exit code."""
    args = hoist_global_options(args)
    if _asks_for_version(args):
        # Print the version before typer and the command tree are imported, because they take
        # most of kfai's start-up time and the version needs neither.
        sys.stdout.write(f"kfai {__version__}\n")
        return 0

    import typer

    fmt = _requested_format(args)
    debug = "--debug" in args
    command = None
    try:
        from kfctl_ai.cli.app import build_command

        command = build_command()
        result = command.main(args=args, prog_name="kfai", standalone_mode=False)
        if result == ExitCode.INTERRUPTED:
            # Typer turns Ctrl-C inside a command into exit 130 without a message.
            _print_error(fmt, INTERRUPTED_MESSAGE, None, {"status": "error", "error": "interrupted", "message": INTERRUPTED_MESSAGE, "exit_code": 130})
        return result if isinstance(result, int) and not isinstance(result, bool) else 0
    except KfaiError as exc:
        _print_error(fmt, exc.message, exc.hint, exc.to_dict())
        return int(exc.exit_code)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        _print_error(fmt, "interrupted", None)
        return int(ExitCode.INTERRUPTED)
    except KeyboardInterrupt:
        _print_error(fmt, INTERRUPTED_MESSAGE, None, {"status": "error", "error": "interrupted", "message": INTERRUPTED_MESSAGE, "exit_code": 130})
        return int(ExitCode.INTERRUPTED)
    except typer.TyperException as exc:
        # Click usage errors: unknown option, bad value, missing argument.
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if not message.strip():
            # `kfai` or a group with no subcommand: click has printed the help, and that is the output.
            return int(getattr(exc, "exit_code", ExitCode.USAGE) or ExitCode.USAGE)
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else _command_path(command, args)
        hint = f"see `{where} --help`"
        _print_error(fmt, message, hint, {"status": "error", "error": "invalid_usage", "message": message, "hint": hint, "exit_code": 2})
        return int(getattr(exc, "exit_code", ExitCode.USAGE) or ExitCode.USAGE)
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the last resort: a bug in kfai
        if debug:
            import traceback

            traceback.print_exc()
        _print_error(
            fmt,
            f"kfai hit an unexpected error: {type(exc).__name__}: {exc}",
            "this is a bug in kfai: rerun with --debug and report the command and its output to the kfai maintainers",
            {"status": "error", "error": "bug", "message": str(exc), "hint": "rerun with --debug and report it to the kfai maintainers", "exit_code": 1},
        )
        return int(ExitCode.BUG)


def main() -> None:
    code = run(sys.argv[1:])
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (`| head`) left early: what it read is what it wanted. Point stdout
        # at /dev/null so the interpreter's own flush at exit does not fail, and keep the
        # command's exit code.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(code)
