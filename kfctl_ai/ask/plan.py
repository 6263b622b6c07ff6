"""Plans: ordered kfai commands, validated by the same parser as typed commands.

A step arrives as `{"command": "fine-tune", "args": {...}}` from either planner. It is
turned into a command line from the command's own parameters, parsed by click, and its
model and dataset are resolved to canonical ids. Anything the command tree does not
accept (an unknown command, option or value) is rejected before a preview is shown.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from kfctl_ai.core.errors import UsageError

STEP_REFERENCE = re.compile(r"^\$steps\[(\d+)\]\.([a-z_]+)$")


class PlanError(UsageError):
    """A plan that does not validate; `problems` lists each step's error."""

    kind = "invalid_plan"

    def __init__(self, message: str, problems: list[str], proposed: list[dict[str, Any]] | None = None):
        super().__init__(
            message,
            hint="rephrase the sentence, or run the kfai command directly",
            problems=problems,
            proposed=proposed or [],
        )
        self.problems = problems
        self.proposed = proposed or []


@dataclass
class PlanStep:
    command: str
    args: dict[str, Any]
    risk: str
    argv: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, "args": self.args, "risk": self.risk, "argv": self.argv}


@dataclass
class Plan:
    sentence: str
    planner: str
    steps: list[PlanStep]
    notes: list[str] = field(default_factory=list)
    usage: dict[str, Any] | None = None

    @property
    def risk(self) -> str:
        risks = {step.risk for step in self.steps}
        for risk in ("delete", "write"):
            if risk in risks:
                return risk
        return "read"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"sentence": self.sentence, "planner": self.planner, "steps": [s.to_dict() for s in self.steps]}
        if self.notes:
            data["notes"] = self.notes
        if self.usage:
            data["usage"] = self.usage
        return data


def _param_key(param: Any) -> str:
    return param.name


def build_argv(info: Any, args: dict[str, Any]) -> list[str]:
    """Spell `args` as a command line for the command `info` (a `tree.CommandInfo`).

    A null value counts as not given. A value of the wrong JSON type is rejected here: a
    list for a single value, a boolean for a name, an empty string for a flag. Their text
    forms ("True", "['a']") would otherwise pass the parser as other values.
    """
    from kfctl_ai.cli.tree import STEP_GLOBAL_OPTIONS, option_name

    params = {_param_key(p): p for p in info.params}
    positional: list[str] = []
    options: list[str] = []
    for key, value in args.items():
        if value is None:
            continue
        if key in STEP_GLOBAL_OPTIONS:
            options += [STEP_GLOBAL_OPTIONS[key], _scalar_text(key, value)]
            continue
        param = params.get(key)
        if param is None:
            known = sorted(list(params) + list(STEP_GLOBAL_OPTIONS))
            close = difflib.get_close_matches(key, known, n=2, cutoff=0.6)
            suggestion = f"; did you mean {', '.join(close)}?" if close else f"; valid: {', '.join(known)}"
            raise UsageError(f"`kfai {info.path}` has no option '{key}'{suggestion}")

        if param.param_type_name == "argument":
            positional.append(_scalar_text(key, value))
        elif getattr(param, "is_flag", False) and getattr(param, "secondary_opts", None):
            options.append(option_name(param) if _flag_value(key, value) else param.secondary_opts[0])
        elif getattr(param, "is_flag", False):
            if _flag_value(key, value):
                options.append(option_name(param))
        elif getattr(param, "multiple", False):
            items = value if isinstance(value, (list, tuple)) else [value]
            for item in items:
                options += [option_name(param), _scalar_text(key, item)]
        else:
            options += [option_name(param), _scalar_text(key, value)]
    return ["kfai", *info.path.split(), *positional, *options]


_FLAG_WORDS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


def _flag_value(key: str, value: Any) -> bool:
    """Return a flag's planned value: a JSON boolean, or true/false spelled as a word."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _FLAG_WORDS:
        return _FLAG_WORDS[value.strip().lower()]
    raise UsageError(f"'{key}' must be true or false, got {value!r}")


def _scalar_text(key: str, value: Any) -> str:
    """Return one planned value as the parser reads it: a string or a number, nothing else."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise UsageError(f"'{key}' must be a string or a number, got {value!r}"[:200])
    return str(value)


def _typed_args(info: Any, params: dict[str, Any], planned: dict[str, Any], global_params: dict[str, Any]) -> dict[str, Any]:
    """Return the planned keys of a step with the values click parsed for them."""
    typed = {key: params[key] for key in planned if key in params}
    if "namespace" in planned and "namespace" in global_params:
        typed["namespace"] = global_params["namespace"]
    return typed


def _canonical(command: str, args: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """Resolve model and dataset names to canonical ids (did-you-mean on a miss)."""
    resolved = dict(args)
    if isinstance(resolved.get("model"), str) and command in {"fine-tune", "preflight", "runtimes"}:
        from kfctl_ai.core.models import resolve_model
        from kfctl_ai.core.runtimes import runtime_model_ids, upstream_runtimes

        model = resolve_model(resolved["model"], runtime_model_ids(upstream_runtimes()))
        resolved["model"] = model.id
        if model.note:
            notes.append(model.note)
    if isinstance(resolved.get("dataset"), str) and command == "fine-tune":
        from kfctl_ai.core.datasets import resolve_dataset

        dataset = resolve_dataset(resolved["dataset"])
        resolved["dataset"] = dataset.uri
        if dataset.note:
            notes.append(dataset.note)
    return resolved


def validate_steps(raw_steps: list[dict[str, Any]], root: Any) -> tuple[list[PlanStep], list[str]]:
    """Validate planner output into `PlanStep`s; raise `PlanError` listing every problem."""
    import typer

    from kfctl_ai.cli.tree import find, parse, walk

    problems: list[str] = []
    steps: list[PlanStep] = []
    notes: list[str] = []
    paths = [info.path for info in walk(root) if info.risk in {"read", "write", "delete"}]

    for index, raw in enumerate(raw_steps):
        prefix = f"step {index + 1}"
        if not isinstance(raw, dict) or not isinstance(raw.get("command"), str):
            problems.append(f"{prefix}: expected an object with a 'command' string, got {raw!r}"[:300])
            continue
        command = " ".join(raw["command"].replace("_", "-").split()).removeprefix("kfai ").strip()
        args = raw.get("args") or {}
        if not isinstance(args, dict):
            problems.append(f"{prefix}: 'args' must be an object, got {type(args).__name__}")
            continue
        # LLMs send null for options they leave out.
        args = {key: value for key, value in args.items() if value is not None}
        info = find(root, command)
        if info is None or info.risk not in {"read", "write", "delete"}:
            close = difflib.get_close_matches(command, paths, n=2, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else f"; kfai commands: {', '.join(paths)}"
            problems.append(f"{prefix}: unknown command '{command}'{hint}")
            continue
        try:
            _check_references(args, index)
            args = _canonical(command, args, notes)
            argv = build_argv(info, args)
            parsed = parse(root, argv[1:])
            typed = _typed_args(info, parsed.params, args, parsed.global_params)
            steps.append(PlanStep(command, typed, info.risk, argv))
        except UsageError as exc:
            problems.append(f"{prefix} ({command}): {exc.message}")
        except typer.TyperException as exc:
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            problems.append(f"{prefix} ({command}): {message}")

    if problems:
        raise PlanError("the plan is invalid: " + "; ".join(problems), problems, proposed=raw_steps)
    return steps, list(dict.fromkeys(notes))


def _check_references(args: dict[str, Any], index: int) -> None:
    for key, value in args.items():
        if isinstance(value, str) and value.startswith("$"):
            match = STEP_REFERENCE.match(value)
            if not match:
                raise UsageError(f"invalid reference '{value}' in '{key}'; use $steps[N].job")
            if int(match.group(1)) >= index:
                raise UsageError(f"'{value}' in '{key}' refers to a step that has not run yet")
            if match.group(2) != "job":
                raise UsageError(f"'{value}': steps only output 'job'")


def resolve_references(argv: list[str], results: list[dict[str, Any]]) -> list[str]:
    """Replace `$steps[N].job` in a step's argv with what step N returned."""
    resolved = []
    for token in argv:
        match = STEP_REFERENCE.match(token)
        if match:
            result = results[int(match.group(1))] or {}
            value = result.get(match.group(2))
            if not value:
                raise UsageError(f"step {int(match.group(1)) + 1} produced no '{match.group(2)}' for {token}")
            token = str(value)
        resolved.append(token)
    return resolved


def edit_step(plan: Plan, index: int, tokens: list[str], root: Any) -> Plan:
    """Change one step's options (`--epochs 5`), then validate the whole plan again.

    The new options are parsed by the step's own command, so an edit can only produce
    what a typed command line could.
    """
    from kfctl_ai.cli.tree import parse

    if not 0 <= index < len(plan.steps):
        raise UsageError(f"invalid step number {index + 1}: the plan has {len(plan.steps)} step(s)")
    step = plan.steps[index]
    before = parse(root, step.argv[1:]).params
    after_parsed = parse(root, step.argv[1:] + tokens)
    changed = {key: value for key, value in after_parsed.params.items() if before.get(key) != value}
    args = {**step.args, **changed}
    if "namespace" in after_parsed.global_params:
        args["namespace"] = after_parsed.global_params["namespace"]

    raw = [{"command": s.command, "args": (args if i == index else s.args)} for i, s in enumerate(plan.steps)]
    steps, notes = validate_steps(raw, root)
    return Plan(plan.sentence, plan.planner, steps, notes=list(dict.fromkeys(plan.notes + notes)), usage=plan.usage)
