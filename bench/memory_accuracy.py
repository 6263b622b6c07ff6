"""Compare kfai's GPU memory estimate with published measurements.

Run `python bench/memory_accuracy.py`. For each case of `memory_cases.csv` it prints
the measured GiB, kfai's estimate of the same metric and the error, then the median
absolute error and the worst under-estimate of kfai and of two baselines:

- kubeflow/mcp-server (`kubeflow_mcp/trainer/api/planning.py`, `_estimate_from_params`):
  weights = parameters x bytes per weight (bf16 2, fp32 4, int4 0.5 for QLoRA),
  plus 5% for adapters, plus activations of weights x 0.3 x (1 + 0.1 x (batch - 1)),
  plus 2 GB. At batch 1 that is weights x 1.35 + 2 GB. Its GB are 10^9 bytes.
- `accelerate estimate-memory` (huggingface/accelerate, `commands/estimate.py`,
  `estimate_training_usage`): the "Training using Adam" column, the largest of model,
  gradients, optimizer and step sizes, which is 8 bytes per parameter for the float16
  row and 16 for float32. It has no training figure for int4, so QLoRA cases use the
  float16 row.
Neither baseline shards across GPUs; for multi-GPU cases their total is split evenly.

Each case names its metric: "max reserved" is compared with kfai's reserved bytes,
"peak active" and "max allocated" with its allocated bytes.
"""

from __future__ import annotations

import csv
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kfctl_ai.core.memory import GIB, TrainingSetup, estimate  # noqa: E402
from kfctl_ai.core.models import resolve_model  # noqa: E402

CASES_CSV = Path(__file__).resolve().parent / "memory_cases.csv"
METRIC_FIELDS = {
    "max reserved": "reserved_gib",
    "peak active": "allocated_gib",
    "peak active per gpu": "allocated_gib",
    "max allocated": "allocated_gib",
}
MCP_BYTES_PER_WEIGHT = {"bf16": 2.0, "fp32": 4.0, "int4": 0.5}
MCP_OVERHEAD_GB = 2
ACCELERATE_BYTES_PER_PARAM = {"bf16": 8, "fp32": 16}


@dataclass(frozen=True)
class CaseResult:
    case_id: str
    model: str
    method: str
    metric: str
    measured_gib: float
    estimated_gib: float
    mcp_server_gib: float
    accelerate_gib: float

    @staticmethod
    def error(estimated: float, measured: float) -> float:
        return (estimated - measured) / measured * 100

    @property
    def error_pct(self) -> float:
        return self.error(self.estimated_gib, self.measured_gib)


def load_cases(path: Path = CASES_CSV) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def setup_for_case(row: dict[str, str]) -> TrainingSetup:
    values: dict[str, object] = {
        "method": row["method"],
        "dtype": row["dtype"],
        "optimizer": row["optimizer"],
        "batch_size": int(row["batch_size"]),
        "seq_len": int(row["seq_len"]),
        "gradient_checkpointing": row["gradient_checkpointing"].strip().lower() == "true",
        "loss": row["loss"],
        "gpus": int(row["gpus"]),
    }
    if row["lora_rank"]:
        values["lora_rank"] = int(row["lora_rank"])
    if row["lora_targets"]:
        values["lora_targets"] = row["lora_targets"]
    return TrainingSetup(**values)  # type: ignore[arg-type]


def mcp_server_gib(parameters: int, setup: TrainingSetup) -> float:
    precision = "int4" if setup.method == "qlora" else setup.dtype
    weights_gb = parameters / 1e9 * MCP_BYTES_PER_WEIGHT[precision]
    adapters_gb = weights_gb * 0.05
    activations_gb = weights_gb * 0.3 * (1 + (setup.batch_size - 1) * 0.1)
    total_gb = weights_gb + adapters_gb + activations_gb + MCP_OVERHEAD_GB
    return total_gb * 1e9 / GIB / setup.world_size


def accelerate_gib(parameters: int, setup: TrainingSetup) -> float:
    return parameters * ACCELERATE_BYTES_PER_PARAM[setup.dtype] / GIB / setup.world_size


def run_case(row: dict[str, str]) -> CaseResult:
    spec = resolve_model(row["model"]).spec
    setup = setup_for_case(row)
    result = estimate(spec.arch, setup)
    metric = row["metric"].strip().lower()
    if metric not in METRIC_FIELDS:
        raise ValueError(f"case {row['id']}: unknown metric '{row['metric']}'; known: {', '.join(METRIC_FIELDS)}")
    return CaseResult(
        case_id=row["id"],
        model=row["model"],
        method=row["method"],
        metric=metric,
        measured_gib=float(row["measured_gib"]),
        estimated_gib=float(result.details[METRIC_FIELDS[metric]]),
        mcp_server_gib=mcp_server_gib(spec.parameters, setup),
        accelerate_gib=accelerate_gib(spec.parameters, setup),
    )


def run_all(path: Path = CASES_CSV) -> list[CaseResult]:
    return [run_case(row) for row in load_cases(path)]


def summary(errors: list[float]) -> tuple[float, float]:
    """Return (median absolute error %, worst under-estimate %; 0 when none is under)."""
    return statistics.median(abs(e) for e in errors), min(min(errors), 0.0)


def main() -> int:
    results = run_all()
    width = max(len(r.model) for r in results)
    header = f"{'id':4} {'model':{width}} {'method':6} {'metric':20} {'measured':>9} {'kfai':>7} {'error':>7}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.case_id:4} {r.model:{width}} {r.method:6} {r.metric:20} {r.measured_gib:9.2f} "
            f"{r.estimated_gib:7.2f} {r.error_pct:+6.1f}%"
        )
    print()
    estimators = {
        "kfai": [r.error_pct for r in results],
        "kubeflow/mcp-server": [CaseResult.error(r.mcp_server_gib, r.measured_gib) for r in results],
        "accelerate estimate-memory": [CaseResult.error(r.accelerate_gib, r.measured_gib) for r in results],
    }
    print(f"{'estimator':28} {'median |error|':>15} {'worst under-estimate':>21}")
    for name, errors in estimators.items():
        median, worst = summary(errors)
        print(f"{name:28} {median:14.1f}% {worst:+20.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
