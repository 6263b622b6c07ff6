"""The offline planner plus plan validation over the shared sentence cases.

This is the whole pipeline `kfai ask` runs without an LLM: parse, validate with the
command tree, resolve model and dataset names to canonical ids.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kfctl_ai.ask.offline import plan_sentence
from kfctl_ai.ask.plan import validate_steps
from kfctl_ai.cli.app import build_command

DATA = Path(__file__).parent / "data"
CASES = [json.loads(line) for name in ("ask_cases.jsonl",)
         for line in (DATA / name).read_text().splitlines() if line.strip()]


def _alnum(value: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(value).lower())


def arg_matches(key: str, expected: object, actual: object) -> bool:
    """Model and dataset ids match by name (expected `llama-3.2-1b` in `meta-llama/Llama-3.2-1B-Instruct`)."""
    if key in {"model", "dataset"}:
        return _alnum(expected) in _alnum(actual)
    return expected == actual


@pytest.fixture(scope="module")
def root():
    return build_command()


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_sentence_plans_as_expected(case, root):
    offline = plan_sentence(case["sentence"])
    if not case["expect"]:
        assert offline.steps == []
        assert offline.message
        return

    steps, _ = validate_steps(offline.steps, root)

    assert [s.command for s in steps] == [e["command"] for e in case["expect"]]
    for step, expected in zip(steps, case["expect"]):
        for key, value in expected["args"].items():
            assert key in step.args, f"{case['id']}: missing {key} in {step.args}"
            assert arg_matches(key, value, step.args[key]), f"{case['id']}: {key}={step.args[key]!r}, expected {value!r}"
        extra = {k for k, v in step.args.items() if k not in expected["args"] and not str(v).startswith("$steps[")}
        assert not extra, f"{case['id']}: unexpected args {extra}"
