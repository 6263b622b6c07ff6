"""The estimator against published measurements in bench/memory_cases.csv."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "memory_accuracy.py"
_spec = importlib.util.spec_from_file_location("memory_accuracy", BENCH)
assert _spec is not None and _spec.loader is not None
memory_accuracy = importlib.util.module_from_spec(_spec)
sys.modules["memory_accuracy"] = memory_accuracy  # dataclasses look their module up here
_spec.loader.exec_module(memory_accuracy)

CASES = memory_accuracy.load_cases()


def test_cases_cite_sources() -> None:
    assert len(CASES) >= 6
    for row in CASES:
        assert row["source"].strip(), f"case {row['id']} names no source"
        assert row["metric"].strip().lower() in memory_accuracy.METRIC_FIELDS


@pytest.mark.parametrize("row", CASES, ids=[row["id"] for row in CASES])
def test_case_within_20_percent(row: dict[str, str]) -> None:
    result = memory_accuracy.run_case(row)
    assert abs(result.error_pct) <= 20, (
        f"{row['id']} {row['model']} {row['method']}: estimated {result.estimated_gib:.2f} GiB, "
        f"measured {result.measured_gib:.2f} GiB ({result.error_pct:+.1f}%)"
    )


def test_median_error_and_worst_underestimate() -> None:
    errors = [r.error_pct for r in memory_accuracy.run_all()]
    median, worst_under = memory_accuracy.summary(errors)
    assert median <= 10
    assert worst_under >= -15


def test_beats_both_baselines() -> None:
    results = memory_accuracy.run_all()
    ours, _ = memory_accuracy.summary([r.error_pct for r in results])
    mcp, _ = memory_accuracy.summary([r.error(r.mcp_server_gib, r.measured_gib) for r in results])
    accelerate, _ = memory_accuracy.summary([r.error(r.accelerate_gib, r.measured_gib) for r in results])
    assert ours < mcp
    assert ours < accelerate


def test_bench_prints_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert memory_accuracy.main() == 0
    printed = capsys.readouterr().out
    assert "median |error|" in printed
    assert "kubeflow/mcp-server" in printed
    assert "accelerate estimate-memory" in printed
