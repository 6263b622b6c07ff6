"""Run an MCP tool call as the kfai command line it stands for.

A call's arguments are validated into a command line by `validate_steps`, the validator
behind `kfai ask` plans, and the command line runs in-process through the same click tree
as a typed command. Its one JSON document becomes the tool result. A write or delete runs
with `--dry-run` unless the call sets `confirmed: true`, and only then is it approved.
"""

from __future__ import annotations

import difflib
import json
import logging
from dataclasses import dataclass
from typing import Any

from kfctl_ai.core.config import Settings
from kfctl_ai.core.errors import ExitCode, KfaiError, UsageError
from kfctl_ai.core.personas import check_command

from kfai_mcp.catalog import DEFAULT_PAGE_LIMIT, ToolSpec, build_catalog

logger = logging.getLogger("kfai_mcp")


@dataclass
class ToolOutcome:
    """A tool call's JSON document, and whether it is an error result."""

    data: dict[str, Any]
    is_error: bool = False

    def __post_init__(self) -> None:
        # Commands emit documents that kfai prints with `default=str` (timestamps, for one), so
        # the same conversion here makes them plain JSON values for structured content.
        self.data = json.loads(json.dumps(self.data, default=str))

    def text(self) -> str:
        return json.dumps(self.data, indent=2, default=str, ensure_ascii=False)


def error_document(kind: str, message: str, exit_code: int, hint: str | None = None) -> dict[str, Any]:
    """Build an error document shaped like `KfaiError.to_dict` for errors that are not `KfaiError`s."""
    document: dict[str, Any] = {"status": "error", "error": kind, "message": message, "exit_code": exit_code}
    if hint:
        document["hint"] = hint
    return document


def page_lines(document: dict[str, Any], cursor: int, limit: int) -> dict[str, Any]:
    """Cut the `lines` of a logs document down to one page and record where the next page starts."""
    lines = document.get("lines") or []
    page = lines[cursor : cursor + limit]
    end = cursor + len(page)
    paged = {key: value for key, value in document.items() if key not in {"lines", "truncated"}}
    paged.update(
        lines=page,
        cursor=cursor,
        next_cursor=end if end < len(lines) else None,
        total_lines=len(lines),
    )
    return paged


class ToolRunner:
    """Runs tool calls for one server: one persona, one set of cluster settings."""

    def __init__(self, settings: Settings, root: Any = None) -> None:
        if root is None:
            from kfctl_ai.cli.app import build_command

            root = build_command()
        self.settings = settings
        self.root = root
        self.catalog = build_catalog(root)

    @property
    def persona(self) -> str:
        return self.settings.persona

    def call(self, name: str, arguments: dict[str, Any] | None) -> ToolOutcome:
        """Run one tool call; every failure becomes an error result with message, hint and exit code."""
        import click

        try:
            return ToolOutcome(self._call(name, dict(arguments or {})))
        except KfaiError as exc:
            logger.info("tool %s failed: %s (exit code %d)", name, exc.message, int(exc.exit_code))
            return ToolOutcome(exc.to_dict(), is_error=True)
        except click.ClickException as exc:
            # A value click rejects after the plan validator accepted it.
            message = exc.format_message()
            logger.info("tool %s rejected: %s", name, message)
            return ToolOutcome(error_document("invalid_usage", message, int(ExitCode.USAGE)), is_error=True)
        except Exception as exc:  # a bug in kfai or the plugin must not end the server
            logger.exception("tool %s hit an unexpected error", name)
            return ToolOutcome(
                error_document(
                    "bug",
                    f"kfai hit an unexpected error: {type(exc).__name__}: {exc}",
                    int(ExitCode.BUG),
                    hint="this is a bug in kfai: report the tool call and the server's log to the kfai maintainers",
                ),
                is_error=True,
            )

    def spec(self, name: str) -> ToolSpec:
        """Return the tool named `name` after checking the persona exactly as the CLI checks a command."""
        spec = self.catalog.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, list(self.catalog), n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}?" if close else f"tools: {', '.join(self.catalog)}"
            raise UsageError(f"unknown tool '{name}'", hint=hint)
        check_command(self.persona, spec.path, spec.risk)
        return spec

    def _call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        spec = self.spec(name)
        validate_arguments(spec, arguments)
        confirmed = bool(arguments.pop("confirmed", False)) if spec.mutating else False
        cursor = int(arguments.pop("cursor", 0)) if spec.paged else 0
        limit = int(arguments.pop("limit", DEFAULT_PAGE_LIMIT)) if spec.paged else 0

        argv, notes = self._argv(spec, arguments)
        if spec.mutating and not confirmed:
            argv.append("--dry-run")
        logger.info("tool %s runs: %s", name, " ".join(argv))
        document = self._run(spec, argv, approved=confirmed)

        if spec.mutating and not confirmed:
            document = dict(document, hint=_confirm_hint(spec, document))
        if spec.paged:
            document = page_lines(document, cursor, limit)
        if notes:
            document = dict(document, notes=notes)
        return document

    def _argv(self, spec: ToolSpec, arguments: dict[str, Any]) -> tuple[list[str], list[str]]:
        from kfctl_ai.ask.plan import PlanError, validate_steps

        try:
            steps, notes = validate_steps([{"command": spec.path, "args": arguments}], self.root)
        except PlanError as exc:
            # The plan validator prefixes each problem with "step 1 (COMMAND): ".
            problems = [problem.split(": ", 1)[-1] for problem in exc.problems]
            raise UsageError(
                f"invalid arguments for tool {spec.name}: {'; '.join(problems)}",
                hint=f"see the input schema of {spec.name}",
            ) from exc
        return list(steps[0].argv), notes

    def _run(self, spec: ToolSpec, argv: list[str], approved: bool) -> dict[str, Any]:
        """Run `argv` through the click tree with a JSON-mode session that collects its output."""
        import click

        from kfctl_ai.cli.output import Output
        from kfctl_ai.cli.session import Session

        output = Output("json")
        output.collected = []
        settings = self.settings.with_overrides(output="json", no_input=True, yes=False)
        session = Session(settings=settings, output=output, approved=approved)
        exit_code = 0
        try:
            returned = self.root.main(args=argv[1:], prog_name="kfai", standalone_mode=False, obj=session)
        except click.exceptions.Exit as exc:
            returned, exit_code = None, int(exc.exit_code)

        document = output.collected[-1] if output.collected else returned
        if not isinstance(document, dict):
            document = {}
        if exit_code == 0 or (exit_code == ExitCode.DOES_NOT_FIT and "verdict" in document):
            # Exit code 3 with a verdict is preflight's "does not fit": a result, not a failed call.
            return document
        raise _ExitError(spec, exit_code, document)


class _ExitError(KfaiError):
    """A command that ended with a non-zero exit code instead of raising a `KfaiError`."""

    kind = "exit"

    def __init__(self, spec: ToolSpec, exit_code: int, document: dict[str, Any]) -> None:
        super().__init__(f"`kfai {spec.path}` ended with exit code {exit_code}", result=document)
        self.exit_code = exit_code  # type: ignore[assignment]  # kept as given, even outside ExitCode


def validate_arguments(spec: ToolSpec, arguments: dict[str, Any]) -> None:
    """Check a call's arguments against the tool's input schema before anything runs."""
    check_arguments(spec.name, spec.input_schema, arguments)


def check_arguments(tool: str, schema: dict[str, Any], arguments: dict[str, Any]) -> None:
    """Raise `UsageError` naming the invalid argument when `arguments` do not match `schema`."""
    import jsonschema

    try:
        jsonschema.validate(instance=arguments, schema=schema)
    except jsonschema.ValidationError as exc:
        where = ".".join(str(part) for part in exc.absolute_path)
        raise UsageError(
            f"invalid arguments for tool {tool}: {(where + ': ') if where else ''}{exc.message}",
            hint=f"see the input schema of {tool} in tools/list (describe_tools in progressive mode)",
        ) from exc


def _confirm_hint(spec: ToolSpec, preview: dict[str, Any]) -> str:
    """Say how to apply the previewed change, naming the TrainJob so that the same one is created."""
    created = [change["name"] for change in preview.get("changes", []) if change.get("action") == "create"]
    hint = f"nothing was changed; call {spec.name} again with the same arguments and confirmed: true to apply it"
    if created:
        hint += f" (add name: '{created[0]}' to create this exact TrainJob)"
    return hint
