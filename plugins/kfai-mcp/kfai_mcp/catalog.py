"""MCP tool definitions generated from kfai's command tree.

Every command whose declared risk is read, write or delete becomes one tool. Its name,
description and input schema come from `kfctl_ai.cli.schema.tool_schema`, the same
generator behind kfai's LLM tools. This module adds what MCP clients need on top
(annotations, the `confirmed` gate on write and delete tools, paging on the logs tool) and
leaves out options that would act on the server's own machine.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from kfctl_ai.cli.schema import PLANNABLE_RISKS, describe_param, tool_name, tool_schema
from kfctl_ai.cli.tree import walk
from kfctl_ai.core.errors import ForbiddenError
from kfctl_ai.core.personas import check_command

MUTATING_RISKS = {"write", "delete"}
# Commands whose JSON output has a `lines` list that the tool returns one page at a time.
PAGED_COMMANDS = {"logs"}
DEFAULT_PAGE_LIMIT = 200
# Options that act on the machine the server runs on instead of the cluster (`train --local`
# runs a script there). MCP clients, possibly remote ones, get no tool argument for them.
SERVER_MACHINE_OPTIONS = {"local"}

CONFIRMED_PROPERTY = {
    "type": "boolean",
    "default": False,
    "description": "false (default): only preview what would change, and change nothing. true: apply it.",
}
CURSOR_PROPERTY = {
    "type": "integer",
    "minimum": 0,
    "default": 0,
    "description": "Line offset of the first line to return: 0, or next_cursor from the previous page.",
}
LIMIT_PROPERTY = {
    "type": "integer",
    "minimum": 1,
    "default": DEFAULT_PAGE_LIMIT,
    "description": "Maximum number of lines in this page.",
}


@dataclass(frozen=True)
class ToolSpec:
    """One MCP tool and the kfai command it runs."""

    name: str
    path: str
    risk: str
    description: str
    input_schema: dict[str, Any] = field(hash=False)
    group: str

    @property
    def mutating(self) -> bool:
        return self.risk in MUTATING_RISKS

    @property
    def paged(self) -> bool:
        return self.path in PAGED_COMMANDS

    def annotations(self) -> dict[str, Any]:
        """MCP tool annotations: hints that let a client decide when to ask its user."""
        hints: dict[str, Any] = {"title": f"kfai {self.path}", "readOnlyHint": self.risk == "read"}
        if self.risk == "read":
            hints["idempotentHint"] = True
        elif self.risk == "delete":
            # Deleting the same TrainJob again changes nothing more (it returns not found).
            hints.update(destructiveHint=True, idempotentHint=True)
        else:
            # A write adds a TrainJob, and each call without a fixed name adds another one.
            hints.update(destructiveHint=False, idempotentHint=False)
        return hints

    def to_dict(self) -> dict[str, Any]:
        """Return the tool as an MCP `tools/list` entry."""
        return {
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
            "annotations": self.annotations(),
        }


def _input_schema(info: Any) -> dict[str, Any]:
    schema = copy.deepcopy(tool_schema(info)["function"]["parameters"])
    properties = schema["properties"]
    for name in SERVER_MACHINE_OPTIONS:
        properties.pop(name, None)
    if "job" in properties:
        # The generated description also offers `$steps[N].job`, which only exists inside a plan.
        properties["job"] = {"type": "string", "description": "TrainJob name."}
    if info.path in PAGED_COMMANDS:
        tail = next((p for p in info.params if p.name == "tail"), None)
        if tail is not None:
            described = describe_param(tail)
            properties["tail"] = {"type": described["type"], "minimum": 1, "description": described["help"]}
        properties["cursor"] = dict(CURSOR_PROPERTY)
        properties["limit"] = dict(LIMIT_PROPERTY)
    if info.risk in MUTATING_RISKS:
        properties["confirmed"] = dict(CONFIRMED_PROPERTY)
    return schema


def _description(info: Any) -> str:
    text = info.help()
    if info.risk in MUTATING_RISKS:
        text += " Without confirmed=true it only returns a preview and changes nothing."
    if info.path in PAGED_COMMANDS:
        text += " Returns at most `limit` lines from `cursor`, and next_cursor while more remain."
    return text


def build_catalog(root: Any) -> dict[str, ToolSpec]:
    """Return every read, write and delete command of the tree as a tool, by tool name, in tree order."""
    catalog: dict[str, ToolSpec] = {}
    for info in walk(root):
        if info.risk not in PLANNABLE_RISKS:
            continue
        spec = ToolSpec(
            name=tool_name(info.path),
            path=info.path,
            risk=info.risk,
            description=_description(info),
            input_schema=_input_schema(info),
            group=info.path.split()[0],
        )
        catalog[spec.name] = spec
    return catalog


def persona_allows(persona: str, spec: ToolSpec) -> bool:
    """Return whether kfai's persona check lets `persona` run the tool's command at all."""
    try:
        check_command(persona, spec.path, spec.risk)
    except ForbiddenError:
        return False
    return True


def visible_tools(catalog: dict[str, ToolSpec], persona: str) -> list[ToolSpec]:
    """Return the tools a server for `persona` lists: those whose command the persona may run."""
    return [spec for spec in catalog.values() if persona_allows(persona, spec)]


def group_summaries(root: Any, specs: list[ToolSpec]) -> list[dict[str, Any]]:
    """Group tools by the first word of their command (`jobs`, `runtimes`, `fine-tune`)."""
    import click

    context = click.Context(root, info_name="kfai")
    groups: dict[str, dict[str, Any]] = {}
    for spec in specs:
        if spec.group not in groups:
            command = root.get_command(context, spec.group)
            groups[spec.group] = {"group": spec.group, "description": command.get_short_help_str(limit=200), "tools": []}
        groups[spec.group]["tools"].append({"name": spec.name, "risk": spec.risk})
    return list(groups.values())
