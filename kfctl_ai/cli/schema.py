"""Describe the command tree as data: for `kfai commands`, LLM tools and MCP tools.

Nothing here is written by hand per command: names, types, choices, defaults, help and
risk all come from the Typer/click definitions and the declared risks.
"""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

from kfctl_ai.cli.tree import STEP_GLOBAL_OPTIONS, CommandInfo, option_name, walk

# Options that only steer how a typed command runs; a plan leaves them out.
NOT_PLANNABLE = {"dry_run", "force", "wait_timeout", "tail"}
# `ask` itself (`plan`) and commands on kfai's own files (`local`) are never plan steps.
PLANNABLE_RISKS = {"read", "write", "delete"}


def annotation_of(param: Any) -> Any:
    """Return the Python type Typer parses the parameter into (`int`, `Literal[...]`, ...)."""
    descriptor = getattr(param, "type_descriptor", None)
    return getattr(descriptor, "annotation", str)


def _json_type(param: Any) -> dict[str, Any]:
    if getattr(param, "multiple", False):
        return {"type": "array", "items": _scalar_type(param, get_args(annotation_of(param)) or (str,))}
    return _scalar_type(param, (annotation_of(param),))


def _scalar_type(param: Any, annotations: tuple[Any, ...]) -> dict[str, Any]:
    annotation = annotations[0]
    if get_origin(annotation) is Literal:
        return {"type": "string", "enum": [str(choice) for choice in get_args(annotation)]}
    if annotation is bool or getattr(param, "is_flag", False):
        return {"type": "boolean"}
    if annotation is int:
        return {"type": "integer"}
    if annotation is float:
        return {"type": "number"}
    return {"type": "string"}


def describe_param(param: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": param.name,
        "kind": param.param_type_name,
        **_json_type(param),
        "required": bool(param.required),
        "help": (getattr(param, "help", None) or "").strip(),
    }
    if param.param_type_name == "option":
        data["flag"] = option_name(param)
    default = param.default
    if default is not None and not callable(default) and param.param_type_name == "option":
        data["default"] = default
    return data


def describe_command(info: CommandInfo) -> dict[str, Any]:
    return {
        "command": info.path,
        "risk": info.risk,
        "help": info.help(),
        "params": [describe_param(p) for p in info.params],
    }


def describe_tree(root: Any) -> list[dict[str, Any]]:
    return [describe_command(info) for info in walk(root)]


def tool_name(path: str) -> str:
    return path.replace(" ", "_").replace("-", "_")


def tool_schema(info: CommandInfo, compact: bool = False) -> dict[str, Any]:
    """One OpenAI-style function tool for a command; its arguments are plan `args`."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in info.params:
        if param.name in NOT_PLANNABLE:
            continue
        prop = _json_type(param)
        if not compact and getattr(param, "help", None):
            prop["description"] = param.help.strip()
        properties[param.name] = prop
        if param.required:
            required.append(param.name)
    if info.path != "ask":
        properties["namespace"] = {"type": "string"} if compact else {"type": "string", "description": "Kubernetes namespace."}
    if any(p.param_type_name == "argument" and p.name == "job" for p in info.params):
        properties["job"] = {"type": "string"} if compact else {"type": "string", "description": "TrainJob name, or $steps[N].job for the job an earlier step created."}
    description = info.help() if not compact else info.help().split(".")[0]
    return {
        "type": "function",
        "function": {
            "name": tool_name(info.path),
            "description": f"[{info.risk}] {description}",
            "parameters": {"type": "object", "properties": properties, "required": required, "additionalProperties": False},
        },
    }


def tools(root: Any, paths: set[str] | None = None, compact: bool = False) -> list[dict[str, Any]]:
    return [
        tool_schema(info, compact)
        for info in walk(root)
        if info.risk in PLANNABLE_RISKS and (paths is None or info.path in paths)
    ]


def path_for_tool(root: Any, name: str) -> str | None:
    for info in walk(root):
        if tool_name(info.path) == name:
            return info.path
    return None


__all__ = ["describe_tree", "tools", "tool_name", "path_for_tool", "STEP_GLOBAL_OPTIONS"]
