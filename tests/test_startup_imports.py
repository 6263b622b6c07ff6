"""`kfai --version` and `kfai --help` start without importing the heavy libraries.

litellm, the Kubeflow SDK, the kubernetes client and questionary take seconds to import;
commands import them where they need them. Each case runs in a fresh interpreter, because
this test process has imported all of them already.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.kfai_runner import clean_env

HEAVY_PACKAGES = ("litellm", "kubeflow", "kubernetes", "questionary", "prompt_toolkit")

PROBE = """
import io, json, sys
from contextlib import redirect_stdout
from kfctl_ai.cli.main import run

with redirect_stdout(io.StringIO()) as printed:
    code = run(json.loads(sys.argv[1]))
loaded = sorted({name.split(".")[0] for name in sys.modules})
sys.stderr.write(json.dumps({"code": code, "printed": printed.getvalue(), "modules": loaded}))
"""


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["jobs", "--help"]], ids=" ".join)
def test_start_up_skips_heavy_imports(args: list[str], tmp_path) -> None:
    completed = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], env=clean_env(tmp_path),
                               capture_output=True, text=True, timeout=60)
    report = json.loads(completed.stderr.strip().splitlines()[-1])

    assert report["code"] == 0
    assert report["printed"].strip()
    imported = sorted(set(HEAVY_PACKAGES) & set(report["modules"]))
    assert imported == [], f"kfai {' '.join(args)} imported {imported}"


def test_offline_plan_parses_options_without_pydantic(tmp_path) -> None:
    # typer converts option values through pydantic unless kfai's plain converters convert them
    # first (kfctl_ai/cli/coercion.py); pydantic alone costs more than typer's own import.
    args = ["ask", "--plan-only", "train llama 3.2 on alpaca, 3 epochs"]
    completed = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], env=clean_env(tmp_path),
                               capture_output=True, text=True, timeout=60)
    report = json.loads(completed.stderr.strip().splitlines()[-1])

    assert report["code"] == 0
    assert "fine-tune" in report["printed"]
    imported = sorted({*HEAVY_PACKAGES, "pydantic"} & set(report["modules"]))
    assert imported == [], f"kfai ask --plan-only imported {imported}"
