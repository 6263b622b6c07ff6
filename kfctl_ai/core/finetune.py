"""Fine-tune: resolve the model and dataset, run preflight, build the TrainJob to approve."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from kfctl_ai.core.errors import DoesNotFitError, KfaiError
from kfctl_ai.core.preflight import PreflightReport, PreflightRequest, run_preflight
from kfctl_ai.core.trainjob import (
    FineTuneRequest,
    job_name,
    preview_trainjob,
    sdk_inputs,
    settings_not_passed,
    submit,
    validate_name,
)


@dataclass
class FineTuneParams:
    model: str
    dataset: str
    epochs: int | None = None
    name: str | None = None
    force: bool = False
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
    runtime: str | None = None
    hf_token_secret: str | None = None


@dataclass
class FineTunePlan:
    request: FineTuneRequest
    preflight: PreflightReport
    trainjob: dict[str, Any]
    inputs: dict[str, Any] = field(repr=False)
    notes: list[str] = field(default_factory=list)

    def argv(self) -> list[str]:
        """Return the equivalent typed command, with every resolved value spelled out."""
        r = self.request
        argv = ["kfai", "fine-tune", r.model_id, "--dataset", r.dataset_uri, "--runtime", r.runtime.name, "--name", r.name]
        for option, value in (
            ("--epochs", r.epochs), ("--method", None if r.method == "full" else r.method), ("--lora-rank", r.lora_rank),
            ("--batch-size", r.batch_size), ("--seq-len", r.seq_len), ("--dtype", r.dtype), ("--optimizer", r.optimizer),
            ("--loss", r.loss), ("--gpus", r.gpus), ("--nodes", r.nodes), ("--hf-token-secret", r.hf_token_secret),
        ):
            if value is not None:
                argv += [option, str(value)]
        if r.lora_targets:
            argv += ["--lora-targets", ",".join(r.lora_targets)]
        if r.gradient_checkpointing is not None:
            argv.append("--gradient-checkpointing" if r.gradient_checkpointing else "--no-gradient-checkpointing")
        argv += ["-n", r.namespace]
        return argv


def prepare_fine_tune(params: FineTuneParams, cluster: Any | None, namespace: str) -> FineTunePlan:
    """Resolve, preflight and build; raise the first blocking problem as a `KfaiError`."""
    from kfctl_ai.core.datasets import resolve_dataset

    dataset = resolve_dataset(params.dataset)
    shared = {f.name: getattr(params, f.name) for f in fields(PreflightRequest) if hasattr(params, f.name)}
    report = run_preflight(PreflightRequest(**shared, purpose="fine-tune"), cluster)

    blocking = report.blocking_error(force=params.force)
    if blocking is not None:
        raise blocking
    if report.verdict == "does_not_fit" and not params.force:
        best = next((fix for fix in report.fixes if fix.get("fits")), None)
        hint = "rerun with --force to submit anyway"
        if best:
            hint = f"{best['title']} ({best['per_gpu_gib']:.1f} GiB per GPU), or " + hint
        raise DoesNotFitError(
            f"{report.model} needs {report.memory['per_gpu_gib']:.1f} GiB per GPU but the GPU has {report.gpu['memory_gib']:.1f} GiB: "
            "the job would die of out-of-memory",
            hint=hint,
            preflight=report.to_dict(),
        )
    if report.runtime is None:
        raise KfaiError(f"no runtime chosen for {report.model}")  # run_preflight fails the runtime check first

    name = validate_name(params.name) if params.name is not None else job_name(report.model, dataset.uri)
    setup = report.setup
    request = FineTuneRequest(
        model_id=report.model,
        dataset_uri=dataset.uri,
        runtime=report.runtime,
        namespace=namespace,
        name=name,
        epochs=params.epochs,
        batch_size=params.batch_size,
        seq_len=params.seq_len,
        method=setup.get("method", "full") if params.method is None else params.method,
        lora_rank=params.lora_rank,
        lora_targets=[t.strip() for t in params.lora_targets.split(",")] if params.lora_targets else [],
        dtype=params.dtype,
        optimizer=params.optimizer,
        gradient_checkpointing=params.gradient_checkpointing,
        loss=params.loss,
        gpus=params.gpus,
        nodes=params.nodes,
        hf_token_secret=params.hf_token_secret,
    )
    inputs = sdk_inputs(request)
    notes = list(report.notes)
    if dataset.note:
        notes.append(dataset.note)
    ignored = settings_not_passed(request)
    if ignored:
        notes.append(
            f"{', '.join(ignored)} shaped the memory estimate only: the Kubeflow SDK's TorchTuneConfig "
            "cannot pass them to torchtune, so the job runs the recipe's values"
        )
    return FineTunePlan(request=request, preflight=report, trainjob=preview_trainjob(inputs, namespace), inputs=inputs, notes=notes)


def execute_fine_tune(plan: FineTunePlan, cluster: Any) -> dict[str, Any]:
    name = submit(cluster, plan.inputs)
    return {
        "status": "created",
        "job": name,
        "namespace": plan.request.namespace,
        "runtime": plan.request.runtime.name,
        "model": plan.request.model_id,
        "dataset": plan.request.dataset_uri,
        "verdict": plan.preflight.verdict,
    }
