"""A history of executed plans in the XDG state directory, one JSON line per plan.

Entries hold the sentence, the plan's command lines, how it was approved and what each
step returned. Plans never contain secrets (a token is named by its Secret, an API key
stays in the provider's variable), and results are reduced to their status fields.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

RESULT_FIELDS = ("status", "job", "namespace", "runtime", "model", "dataset", "verdict")


def history_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "kfai" / "history.jsonl"


def _summary(result: Any) -> dict[str, Any]:
    if not isinstance(result, dict):
        return {"status": "done"}
    summary = {key: result[key] for key in RESULT_FIELDS if key in result}
    # Read commands return data rather than a status; they ran to the end.
    summary.setdefault("status", "done")
    return summary


def record(plan: dict[str, Any], approval: str, results: list[Any], error: str | None = None) -> None:
    """Append one executed plan. An OSError while writing is ignored, so the plan still succeeds."""
    entry = {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "sentence": plan.get("sentence"),
        "planner": plan.get("planner"),
        "steps": [step.get("argv") for step in plan.get("steps", [])],
        "approval": approval,
        "results": [_summary(result) for result in results],
    }
    if error:
        entry["error"] = error
    path = history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
    except OSError:
        pass


def read(limit: int | None = None) -> list[dict[str, Any]]:
    path = history_path()
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a crash; the others still count
    return entries[-limit:] if limit else entries
