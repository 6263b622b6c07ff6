"""Measure how many tokens the tool list costs a client, per mode and persona.

Run `python -m kfai_mcp.measure` to print a Markdown table. The text measured is the
`tools` array of a `tools/list` result as compact JSON, which is close to what a client
puts into its model's context (clients reformat it, so the counts are estimates). Two
estimates are printed: characters / 4, a rule of thumb for English text and JSON, and
litellm's `token_counter` for gpt-4o-mini, which uses tokenizer files bundled with litellm
and needs no network.
"""

from __future__ import annotations

import json
import os
from typing import Any

from kfctl_ai.core.config import Settings
from kfctl_ai.core.personas import PERSONAS

MODES = ("full", "progressive")
TOKENIZER_MODEL = "gpt-4o-mini"


def tool_list_text(mode: str, persona: str) -> str:
    """Return the `tools` array a server in `mode` for `persona` lists, as compact JSON."""
    import mcp.types as types

    from kfai_mcp.runner import ToolRunner
    from kfai_mcp.toolsets import make_toolset

    toolset = make_toolset(ToolRunner(Settings(persona=persona)), mode)
    tools = [types.Tool.model_validate(entry).model_dump(by_alias=True, exclude_none=True, mode="json") for entry in toolset.list()]
    return json.dumps(tools, separators=(",", ":"), ensure_ascii=False)


def count_tokens(text: str) -> int | None:
    """Tokens of `text` by litellm for gpt-4o-mini, or None when litellm cannot count offline."""
    # Use litellm's bundled model table instead of downloading the latest one on import.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm

        return int(litellm.token_counter(model=TOKENIZER_MODEL, text=text))
    except Exception:  # an estimate is optional: the characters / 4 column is always there
        return None


def measure() -> list[dict[str, Any]]:
    rows = []
    for mode in MODES:
        for persona in PERSONAS:
            text = tool_list_text(mode, persona)
            rows.append({
                "mode": mode,
                "persona": persona,
                "tools": len(json.loads(text)),
                "characters": len(text),
                "chars_div_4": round(len(text) / 4),
                "gpt_4o_mini_tokens": count_tokens(text),
            })
    return rows


def main() -> None:
    print(f"| mode | persona | tools | characters | characters / 4 | {TOKENIZER_MODEL} tokens (litellm) |")
    print("|---|---|---|---|---|---|")
    for row in measure():
        tokens = row["gpt_4o_mini_tokens"] if row["gpt_4o_mini_tokens"] is not None else "n/a"
        print(f"| {row['mode']} | {row['persona']} | {row['tools']} | {row['characters']} | {row['chars_div_4']} | {tokens} |")


if __name__ == "__main__":
    main()
