"""Ranked changes that make a training setup fit its GPU, each re-estimated.

`suggest_fixes` tries one change at a time (an option of `kfai preflight` set to a new
value), estimates the memory again, and ranks the results: fixes that fit first, then
the least disruptive. When no single change fits, it adds the smallest combination of
them that does, found by applying them in order of disruption.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from kfctl_ai.core.architecture import Architecture
from kfctl_ai.core.errors import UnknownNameError
from kfctl_ai.core.gpus import resolve_gpu_type
from kfctl_ai.core.memory import TrainingSetup, estimate

# How much each kind of change alters the training run, lowest first. 0: slower steps
# only. 1: a small numeric change. 2: a different optimization path (fewer samples per
# step, fewer trained weights). 3: more or other GPUs on one node. 4: several nodes, or
# quantized base weights. 5: truncated samples.
DISRUPTION = {
    "gradient_checkpointing": 0,
    "loss": 0,
    "optimizer": 1,
    "batch_size": 2,
    "method_lora": 2,
    "gpus": 3,
    "gpu_type": 3,
    "nodes": 4,
    "method_qlora": 4,
    "seq_len": 5,
}
MAX_GPUS_PER_NODE = 8
MAX_NODES = 16
MIN_SEQ_LEN = 256


@dataclass(frozen=True)
class Fix:
    """One suggested change: option names and values as `kfai preflight` takes them."""

    title: str
    changes: dict[str, Any]
    per_gpu_gib: float
    fits: bool
    disruption: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "changes": dict(self.changes), "per_gpu_gib": round(self.per_gpu_gib, 2),
                "fits": self.fits}


def suggest_fixes(
    arch: Architecture,
    setup: TrainingSetup,
    gpu_memory_gib: float,
    available_gpu_types: list[str] | None = None,
) -> list[Fix]:
    """Return fixes for a setup that needs more than `gpu_memory_gib` per GPU, best first."""

    def fix(title: str, kind: str, memory: float, **changes: Any) -> Fix:
        per_gpu = estimate(arch, replace(setup, **changes)).per_gpu_gib
        return Fix(title, changes, per_gpu, per_gpu <= memory, DISRUPTION[kind])

    fixes: list[Fix] = []
    if not setup.gradient_checkpointing:
        fixes.append(fix("turn on gradient checkpointing (recomputes activations, about 30% slower)",
                         "gradient_checkpointing", gpu_memory_gib, gradient_checkpointing=True))
    if setup.loss == "ce":
        fixes.append(fix("use chunked cross-entropy, which never holds the full fp32 logits",
                         "loss", gpu_memory_gib, loss="chunked-ce"))
    if setup.optimizer == "adamw" and setup.method == "full":
        fixes.append(fix("use 8-bit AdamW for the optimizer states", "optimizer", gpu_memory_gib,
                         optimizer="adamw8bit"))
    if setup.method == "full":
        fixes.append(fix(f"train LoRA adapters (rank {setup.lora_rank}) instead of all weights",
                         "method_lora", gpu_memory_gib, method="lora"))
    if setup.method != "qlora":
        fixes.append(fix("use QLoRA: 4-bit base weights with LoRA adapters", "method_qlora", gpu_memory_gib,
                         method="qlora"))
    fixes += _smaller("batch_size", setup.batch_size, 1, "batch size {new} instead of {old}", fix, gpu_memory_gib)
    fixes += _smaller("seq_len", setup.seq_len, MIN_SEQ_LEN,
                      "sequence length {new} instead of {old} (longer samples are truncated)", fix, gpu_memory_gib)
    fixes += _larger("gpus", setup.gpus, MAX_GPUS_PER_NODE,
                     "{new} GPUs per node instead of {old}: FSDP shards weights, gradients and optimizer states",
                     fix, gpu_memory_gib)
    fixes += _larger("nodes", setup.nodes, MAX_NODES, "{new} nodes instead of {old}", fix, gpu_memory_gib)
    fixes += _bigger_gpu(arch, setup, gpu_memory_gib, available_gpu_types or [])

    # A change that saves nothing at the peak (a smaller batch when the optimizer step
    # is the peak) is left out, except a bigger GPU, which keeps the estimate as it is.
    current = estimate(arch, setup).per_gpu_gib
    fixes = [f for f in fixes if f.fits or f.per_gpu_gib < current - 0.01]
    fixes.sort(key=lambda f: (not f.fits, f.disruption, f.per_gpu_gib))
    if fixes and not any(f.fits for f in fixes):
        combined = _combination(arch, setup, gpu_memory_gib, fixes)
        if combined is not None:
            fixes.insert(0, combined)
    return fixes


def _smaller(option: str, current: int, floor: int, title: str, fix: Any, memory: float) -> list[Fix]:
    """Return the largest halved value of `option` that fits, or the smallest tried if none does."""
    value, tried = current // 2, None
    while value >= floor:
        tried = fix(title.format(new=value, old=current), option, memory, **{option: value})
        if tried.fits:
            return [tried]
        value //= 2
    return [tried] if tried else []


def _larger(option: str, current: int, ceiling: int, title: str, fix: Any, memory: float) -> list[Fix]:
    """Return the smallest doubled value of `option` that fits, or the largest tried if none does."""
    value, tried = current * 2, None
    while value <= ceiling:
        tried = fix(title.format(new=value, old=current), option, memory, **{option: value})
        if tried.fits:
            return [tried]
        value *= 2
    return [tried] if tried else []


def _bigger_gpu(arch: Architecture, setup: TrainingSetup, memory: float, gpu_types: list[str]) -> list[Fix]:
    """Return the smallest listed GPU type on which the setup fits as it is."""
    per_gpu = estimate(arch, setup).per_gpu_gib
    bigger = []
    for name in gpu_types:
        try:
            gpu = resolve_gpu_type(name)
        except UnknownNameError:
            continue
        if gpu.memory_gib > memory:
            bigger.append((gpu.memory_gib, name))
    if not bigger:
        return []
    fitting = sorted(b for b in bigger if per_gpu <= b[0])
    gpu_memory, name = fitting[0] if fitting else max(bigger)
    title = f"use {name} GPUs ({gpu_memory:.1f} GiB each)"
    return [Fix(title, {"gpu_type": name}, per_gpu, per_gpu <= gpu_memory, DISRUPTION["gpu_type"])]


def _combination(arch: Architecture, setup: TrainingSetup, memory: float, fixes: list[Fix]) -> Fix | None:
    """Return the changes that make the setup fit together, or None if all of them do not.

    Changes are applied in order of disruption until the setup fits. A later change of
    the same option replaces the earlier one, as QLoRA replaces LoRA. Then each change
    that the fit does not need is dropped again, the most disruptive first.
    """
    ordered = [f for f in sorted(fixes, key=lambda f: f.disruption) if "gpu_type" not in f.changes]
    used: list[Fix] = []
    for candidate in ordered:
        used = [f for f in used if not set(f.changes) & set(candidate.changes)] + [candidate]
        if _fits(arch, setup, memory, used):
            break
    else:
        return None
    for candidate in reversed(list(used)):
        rest = [f for f in used if f is not candidate]
        if rest and _fits(arch, setup, memory, rest):
            used = rest
    changes = {option: value for f in used for option, value in f.changes.items()}
    per_gpu = estimate(arch, replace(setup, **changes)).per_gpu_gib
    titles = [f.title.split(":")[0].split(" (")[0].split(", which")[0] for f in used]
    return Fix("combine: " + "; ".join(titles), changes, per_gpu, True, max(f.disruption for f in used))


def _fits(arch: Architecture, setup: TrainingSetup, memory: float, fixes: list[Fix]) -> bool:
    changes = {option: value for f in fixes for option, value in f.changes.items()}
    return estimate(arch, replace(setup, **changes)).per_gpu_gib <= memory
