"""Preflight: will this training setup fit, and can it be submitted here?

It estimates GPU memory per GPU from the model's architecture and the setup, finds the
GPU the job would land on, and runs the cluster checks. The result is a verdict
(fits, tight, does_not_fit, unknown), the checks, and ranked fixes when it does not fit.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from kfctl_ai.core.checks import (
    Check,
    GpuNode,
    check_gated_token,
    check_namespace,
    check_permission,
    check_quota,
    gpu_nodes,
)
from kfctl_ai.core.errors import DoesNotFitError, KfaiError, NotFoundError, UsageError
from kfctl_ai.core.runtimes import RuntimeInfo, parse_runtimes, rank_for_model, runtime_model_ids, upstream_runtimes

# Above this share of GPU memory a job is "tight": allocator spikes and a longer batch
# than the average one can still push it over.
TIGHT_FRACTION = 0.90


@dataclass
class PreflightRequest:
    model: str
    method: str | None = None
    lora_rank: int | None = None
    lora_targets: str | None = None
    dtype: str | None = None
    optimizer: str | None = None
    batch_size: int | None = None
    seq_len: int | None = None
    gradient_checkpointing: bool | None = None
    loss: str | None = None
    gpus: int | None = None
    nodes: int | None = None
    gpu_memory: float | None = None
    gpu_type: str | None = None
    model_config: str | None = None
    runtime: str | None = None
    hf_token_secret: str | None = None
    purpose: str = "preflight"  # or "fine-tune": a runtime that cannot fine-tune fails


@dataclass
class PreflightReport:
    model: str
    model_note: str | None
    runtime: RuntimeInfo | None
    setup: dict[str, Any]
    gpu: dict[str, Any]
    memory: dict[str, Any]
    verdict: str
    checks: list[Check]
    fixes: list[dict[str, Any]] = field(default_factory=list)
    gated: bool = False
    notes: list[str] = field(default_factory=list)

    def blocking_error(self, force: bool = False) -> KfaiError | None:
        """Return the first failed check's error, which stops a submission.

        With `force`, capacity problems (exit 3: quota, GPUs) no longer block, because the
        job can wait for capacity. A missing runtime, namespace or permission still blocks.
        """
        for check in self.checks:
            if check.status != "fail" or check.error is None:
                continue
            if force and isinstance(check.error, DoesNotFitError):
                continue
            return check.error
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "runtime": self.runtime.name if self.runtime else None,
            "verdict": self.verdict,
            "memory": self.memory,
            "gpu": self.gpu,
            "setup": self.setup,
            "checks": [c.to_dict() for c in self.checks],
            "fixes": self.fixes,
            "notes": self.notes,
        }


def _resolve(request: PreflightRequest, runtimes: list[RuntimeInfo]) -> tuple[str, Any, str | None, bool]:
    """Return (model id, architecture, note, gated) from the catalog or a config.json."""
    from kfctl_ai.core.models import arch_from_hf_config, resolve_model

    if request.model_config:
        arch = arch_from_hf_config(request.model_config)
        return request.model, arch, f"architecture read from {request.model_config}", False
    resolved = resolve_model(request.model, runtime_model_ids(runtimes))
    return resolved.id, resolved.spec.arch, resolved.note, bool(resolved.spec.gated)


def _pick_runtime(request: PreflightRequest, runtimes: list[RuntimeInfo], model_id: str, source: str) -> tuple[RuntimeInfo | None, Check]:
    fine_tune = request.purpose == "fine-tune"
    if request.runtime:
        runtime = next((r for r in runtimes if r.name == request.runtime), None)
        if runtime is None:
            close = difflib.get_close_matches(request.runtime, [r.name for r in runtimes], n=3, cutoff=0.4)
            error = NotFoundError(
                f"runtime '{request.runtime}' not found",
                hint=(f"did you mean {', '.join(close)}? " if close else "") + "list them with `kfai runtimes`",
            )
            return None, Check("runtime", "fail", error.message, error)
        if fine_tune and not runtime.builtin:
            error = UsageError(
                f"runtime '{runtime.name}' is a {runtime.framework} runtime; fine-tune needs a torchtune runtime",
                hint=f"pick one with `kfai runtimes --model {model_id}`, or run your own script with `kfai train`",
            )
            return runtime, Check("runtime", "fail", error.message, error)
        if runtime.builtin and runtime.model and rank_for_model([runtime], model_id) == []:
            error = UsageError(
                f"runtime '{runtime.name}' is built for {runtime.model}, not {model_id}",
                hint=f"see which runtimes fit with `kfai runtimes --model {model_id}`",
            )
            return runtime, Check("runtime", "fail", error.message, error)
        return runtime, Check("runtime", "pass", f"runtime '{runtime.name}' ({runtime.framework}) serves {model_id}")

    matches = [m for m in rank_for_model(runtimes, model_id) if m.runtime.builtin]
    if matches:
        runtime = matches[0].runtime
        where = "upstream runtime" if source == "upstream" else "runtime"
        return runtime, Check("runtime", "pass", f"{where} '{runtime.name}' serves {model_id}")

    served = sorted(runtime_model_ids(runtimes))
    error = NotFoundError(
        f"no torchtune runtime serves {model_id}",
        hint=("models with a runtime here: " + ", ".join(served) + "; " if served else "")
        + "ask your platform team for a runtime, or train it with your own script (`kfai train`)",
    )
    return None, Check("runtime", "fail" if fine_tune else "warn", error.message, error if fine_tune else None)


def _setup(request: PreflightRequest, runtime: RuntimeInfo | None) -> Any:
    from kfctl_ai.core.memory import TrainingSetup

    values: dict[str, Any] = {
        "gpus": request.gpus or (runtime.gpus_per_node if runtime and runtime.gpus_per_node else 1),
        "nodes": request.nodes or (runtime.num_nodes if runtime else 1),
    }
    for name in ("method", "lora_rank", "dtype", "optimizer", "batch_size", "seq_len", "gradient_checkpointing", "loss"):
        value = getattr(request, name)
        if value is not None:
            values[name] = value
    if request.lora_targets:
        values["lora_targets"] = request.lora_targets
    return TrainingSetup(**values)


def _choose_gpu(nodes: list[GpuNode], gpus_per_node: int, replicas: int, gpu_type: str | None) -> tuple[dict[str, Any], Check]:
    """Find the GPU a replica would land on and check that enough nodes have room."""
    from kfctl_ai.core.gpus import product_matches

    if gpu_type:
        nodes = [n for n in nodes if n.product and product_matches(gpu_type, n.product)]
    if not nodes:
        missing = f"{gpu_type} GPUs" if gpu_type else "GPUs"
        error = DoesNotFitError(f"no node in the cluster has {missing}", hint="pick a GPU type the cluster has (`kfai cluster gpus`)")
        return {"source": "cluster", "memory_gib": None}, Check("gpus", "fail", error.message, error)

    big_enough = [n for n in nodes if n.allocatable >= gpus_per_node]
    if not big_enough:
        max_gpus = max(n.allocatable for n in nodes)
        error = DoesNotFitError(
            f"no node has {gpus_per_node} GPUs; the largest has {max_gpus}",
            hint=f"use --gpus {max_gpus} or fewer per node, and more --nodes if needed",
        )
        return {"source": "cluster", "memory_gib": None}, Check("gpus", "fail", error.message, error)
    free_now = [n for n in big_enough if n.free >= gpus_per_node]
    pool = free_now or big_enough
    best = max(pool, key=lambda n: (n.memory_gib or 0, n.free))
    gpu = {"source": "cluster", "node": best.name, "product": best.product, "memory_gib": best.memory_gib}
    summary = ", ".join(f"{n.name}: {n.free}/{n.allocatable} free" for n in big_enough[:6])
    if len(free_now) >= replicas:
        return gpu, Check("gpus", "pass", f"{len(free_now)} node(s) with {gpus_per_node} free GPU(s) for {replicas} replica(s) ({summary})")
    return gpu, Check(
        "gpus",
        "warn",
        f"only {len(free_now)} node(s) have {gpus_per_node} free GPU(s) for {replicas} replica(s) now; the job will wait ({summary})",
    )


def verdict_for(per_gpu_gib: float, memory_gib: float | None) -> str:
    if not memory_gib:
        return "unknown"
    if per_gpu_gib > memory_gib:
        return "does_not_fit"
    if per_gpu_gib > TIGHT_FRACTION * memory_gib:
        return "tight"
    return "fits"


def run_preflight(request: PreflightRequest, cluster: Any | None) -> PreflightReport:
    """Estimate memory and check the cluster; `cluster` is None when none is configured."""
    from kfctl_ai.core.gpus import resolve_gpu_type
    from kfctl_ai.core.memory import estimate

    checks: list[Check] = []
    notes: list[str] = []
    runtimes: list[RuntimeInfo] = []
    source = "upstream"
    cluster_ok = False

    if cluster is None:
        runtimes = upstream_runtimes()
        checks.append(Check("cluster", "skipped", "no kubeconfig: cluster checks skipped; estimate only"))
        notes.append("No cluster configured: point kfai at one with --kubeconfig PATH or KUBECONFIG.")
    else:
        try:
            runtimes = parse_runtimes(cluster.list_runtime_objects())
            source = "cluster"
            cluster_ok = True
            checks.append(Check("cluster", "pass", f"reached {cluster.host} (context {cluster.context or '-'})"))
        except KfaiError as exc:
            checks.append(Check("cluster", "fail", exc.message, exc))
            runtimes = upstream_runtimes()
            notes.append("The cluster could not be read: the estimate uses the upstream runtimes.")

    model_id, arch, model_note, gated = _resolve(request, runtimes)
    runtime, runtime_check = _pick_runtime(request, runtimes, model_id, source)
    setup = _setup(request, runtime)
    estimate_result = estimate(arch, setup)

    gpu: dict[str, Any] = {"source": None, "memory_gib": None}
    gpu_check: Check | None = None
    if request.gpu_memory:
        gpu = {"source": "--gpu-memory", "memory_gib": float(request.gpu_memory)}
    elif request.gpu_type and not cluster_ok:
        gpu_spec = resolve_gpu_type(request.gpu_type)
        gpu = {"source": "--gpu-type", "product": gpu_spec.product, "memory_gib": gpu_spec.memory_gib}
    if cluster_ok:
        try:
            nodes = gpu_nodes(cluster)
            cluster_gpu, gpu_check = _choose_gpu(nodes, setup.gpus, setup.nodes, request.gpu_type)
            if gpu["memory_gib"] is None:
                gpu = cluster_gpu
        except KfaiError as exc:
            gpu_check = Check("gpus", "warn", f"could not read GPU nodes: {exc.message}")

    verdict = verdict_for(estimate_result.per_gpu_gib, gpu.get("memory_gib"))

    if cluster_ok:
        checks.append(check_namespace(cluster))
    checks.append(runtime_check)
    if gpu_check:
        checks.append(gpu_check)
    if cluster_ok:
        checks.append(check_quota(cluster, gpus=setup.gpus * setup.nodes))
        checks.append(check_permission(cluster))
    elif cluster is None:
        for name in ("namespace", "gpus", "quota", "permission"):
            checks.append(Check(name, "skipped", "no cluster configured"))
    checks.append(check_gated_token(cluster if cluster_ok else None, model_id, gated, request.hf_token_secret))
    checks.append(_memory_check(verdict, estimate_result.per_gpu_gib, gpu))

    fixes: list[dict[str, Any]] = []
    if verdict in {"does_not_fit", "tight"} and gpu.get("memory_gib"):
        from kfctl_ai.core.fixes import suggest_fixes

        fixes = [fix.to_dict() for fix in suggest_fixes(arch, setup, gpu["memory_gib"])]

    if model_note:
        notes.insert(0, model_note)
    return PreflightReport(
        model=model_id,
        model_note=model_note,
        runtime=runtime,
        setup=setup.to_dict(),
        gpu=gpu,
        memory=estimate_result.to_dict(),
        verdict=verdict,
        checks=checks,
        fixes=fixes,
        gated=gated,
        notes=notes,
    )


def _memory_check(verdict: str, per_gpu: float, gpu: dict[str, Any]) -> Check:
    memory = gpu.get("memory_gib")
    if verdict == "unknown":
        return Check("memory", "skipped", f"needs {per_gpu:.1f} GiB per GPU; GPU memory unknown (give --gpu-type or --gpu-memory)")
    share = per_gpu / memory * 100
    text = f"needs {per_gpu:.1f} GiB of {memory:.1f} GiB per GPU ({share:.0f}%)"
    status = {"fits": "pass", "tight": "warn", "does_not_fit": "fail"}[verdict]
    return Check("memory", status, text)
