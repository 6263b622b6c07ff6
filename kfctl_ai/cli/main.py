"""The entry point and the one error boundary: every failure becomes one line and an exit code."""

from __future__ import annotations

import json
import sys
import traceback

import typer

from kfctl_ai.cli.argv import hoist_global_options
from kfctl_ai.core.errors import ExitCode, KfaiError




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


def run(args: list[str]) -> int:
    """Run kfai with `args` (without the program name) and return the exit code."""
    args = hoist_global_options(args)
    fmt = _requested_format(args)
    debug = "--debug" in args
    try:
        from kfctl_ai.cli.app import build_command

        command = build_command()
        result = command.main(args=args, prog_name="kfai", standalone_mode=False)
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
        _print_error(fmt, "interrupted: nothing more was sent to the cluster", None)
        return int(ExitCode.INTERRUPTED)
    except typer.TyperException as exc:
        # Click usage errors: unknown option, bad value, missing argument.
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "kfai"
        hint = f"see `{where} --help`"
        _print_error(fmt, message, hint, {"status": "error", "error": "invalid_usage", "message": message, "exit_code": 2})
        return int(getattr(exc, "exit_code", ExitCode.USAGE) or ExitCode.USAGE)
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the last resort: a bug in kfai
        if debug:
            traceback.print_exc()
        _print_error(
            fmt,
            f"kfai hit an unexpected error: {type(exc).__name__}: {exc}",
            "this is a bug in kfai: rerun with --debug and report the command and its output to the kfai maintainers",
            {"status": "error", "error": "bug", "message": str(exc), "exit_code": 1},
        )
        return int(ExitCode.BUG)


def main() -> None:
    sys.exit(run(sys.argv[1:]))
