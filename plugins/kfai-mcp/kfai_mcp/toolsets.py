"""The two ways a server offers tools: one tool per command, or three meta-tools.

`full` lists one tool per kfai command the persona may run. `progressive` lists three
meta-tools, for clients whose context window cannot hold every schema: list the tool
groups, describe the tools of a group, and execute a tool by name. Both run calls through
the same `ToolRunner`, so the persona check, preview gate and errors are the same.
"""

from __future__ import annotations

from typing import Any, Protocol

from kfctl_ai.core.errors import KfaiError, UsageError

from kfai_mcp.catalog import ToolSpec, group_summaries, visible_tools
from kfai_mcp.runner import ToolOutcome, ToolRunner, check_arguments

LIST_GROUPS = "list_tool_groups"
DESCRIBE_TOOLS = "describe_tools"
EXECUTE_TOOL = "execute_tool"


class ToolSet(Protocol):
    def list(self) -> list[dict[str, Any]]:
        """Return the tools as MCP `tools/list` entries."""
        ...

    def call(self, name: str, arguments: dict[str, Any] | None) -> ToolOutcome:
        """Run one tool call; errors come back as error outcomes, never as exceptions."""
        ...


class FullToolSet:
    """One MCP tool per kfai command that the persona may run."""

    def __init__(self, runner: ToolRunner) -> None:
        self.runner = runner
        self.specs = visible_tools(runner.catalog, runner.persona)

    def list(self) -> list[dict[str, Any]]:
        return [spec.to_dict() for spec in self.specs]

    def call(self, name: str, arguments: dict[str, Any] | None) -> ToolOutcome:
        return self.runner.call(name, arguments)


class ProgressiveToolSet:
    """Three meta-tools that reach the same tools as `FullToolSet`, a few at a time."""

    def __init__(self, runner: ToolRunner) -> None:
        self.runner = runner
        self.specs = visible_tools(runner.catalog, runner.persona)

    def list(self) -> list[dict[str, Any]]:
        risks = {spec.risk for spec in self.specs}
        execute_hints: dict[str, Any] = {"title": "Execute a kfai tool", "readOnlyHint": risks <= {"read"}}
        if not risks <= {"read"}:
            execute_hints["destructiveHint"] = "delete" in risks
        return [
            {
                "name": LIST_GROUPS,
                "description": "List kfai's tool groups (runtimes, jobs, fine-tune, ...) and the tools in each.",
                "inputSchema": {"type": "object", "properties": {}, "additionalProperties": False},
                "annotations": {"title": "List kfai tool groups", "readOnlyHint": True, "idempotentHint": True},
            },
            {
                "name": DESCRIBE_TOOLS,
                "description": "Return the description and input schema of tools, given tool or group names.",
                "inputSchema": {
                    "type": "object",
                    "properties": {"names": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
                    "required": ["names"],
                    "additionalProperties": False,
                },
                "annotations": {"title": "Describe kfai tools", "readOnlyHint": True, "idempotentHint": True},
            },
            {
                "name": EXECUTE_TOOL,
                "description": "Run a kfai tool with arguments that match its input schema. "
                "Write and delete tools only preview unless arguments.confirmed is true.",
                "inputSchema": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "arguments": {"type": "object"}},
                    "required": ["name"],
                    "additionalProperties": False,
                },
                "annotations": execute_hints,
            },
        ]

    def call(self, name: str, arguments: dict[str, Any] | None) -> ToolOutcome:
        arguments = arguments or {}
        schemas = {entry["name"]: entry["inputSchema"] for entry in self.list()}
        try:
            if name in schemas:
                check_arguments(name, schemas[name], arguments)
            if name == LIST_GROUPS:
                return ToolOutcome({"persona": self.runner.persona, "groups": group_summaries(self.runner.root, self.specs)})
            if name == DESCRIBE_TOOLS:
                return ToolOutcome({"tools": [spec.to_dict() for spec in self._described(arguments["names"])]})
            if name == EXECUTE_TOOL:
                return self.runner.call(arguments["name"], arguments.get("arguments") or {})
            raise UsageError(f"unknown tool '{name}'", hint=f"tools: {LIST_GROUPS}, {DESCRIBE_TOOLS}, {EXECUTE_TOOL}")
        except KfaiError as exc:
            return ToolOutcome(exc.to_dict(), is_error=True)

    def _described(self, names: list[str]) -> list[ToolSpec]:
        """Return the tools named, where a group name stands for every tool in that group."""
        found: dict[str, ToolSpec] = {}
        groups = {spec.group for spec in self.specs}
        for name in names:
            if name in groups:
                found.update((spec.name, spec) for spec in self.specs if spec.group == name)
            else:
                spec = self.runner.spec(name)
                found[spec.name] = spec
        return list(found.values())


def make_toolset(runner: ToolRunner, mode: str) -> ToolSet:
    if mode == "progressive":
        return ProgressiveToolSet(runner)
    return FullToolSet(runner)
