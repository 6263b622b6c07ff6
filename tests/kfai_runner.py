"""Run the installed `kfai` command the way a user or an agent does, in a clean environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KFAI = shutil.which("kfai") or "kfai"


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def clean_env(home: Path, kubeconfig: str | Path | None = None, **extra: str) -> dict[str, str]:
    """An environment with no user config, no LLM and, unless given, no kubeconfig."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KFAI_", "KUBECONFIG", "OPENAI_"))}
    env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_STATE_HOME": str(home / ".state"), "NO_COLOR": "1"})
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    env.update(extra)
    return env


def run_kfai(*args: str, env: dict[str, str], stdin: str | None = None, timeout: float = 90) -> Result:
    completed = subprocess.run(
        [KFAI, *args],
        env=env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)
