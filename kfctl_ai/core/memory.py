"""GPU memory per GPU for fine-tuning a decoder, estimated from first principles.

The estimate adds up what lives on one GPU at the busiest moment of a training step:
- weights: bf16 or fp32; for QLoRA the block linears in NF4 with double-quantized
  constants and everything else in the training dtype; LoRA adapters on top.
  With more than one GPU, FSDP full shard splits them. Each GPU also has the unsharded
  layers being gathered (`FSDP_GATHERED_LAYERS`) and the root module (embeddings,
  final norm, output projection), which FSDP keeps gathered from the forward through
  the backward pass.
- gradients and optimizer states of the trainable parameters only, sharded like the
  weights. AdamW keeps two states in the parameter dtype; 8-bit AdamW one byte each.
- activations: what autograd keeps per token (see `activations`), the logits and the
  cross-entropy, and the backward working set of one block.
- overhead: allocator fragmentation plus the CUDA context, and NCCL buffers when
  distributed.

It takes the largest of three moments: the loss at the end of the forward pass (every
activation and the logits alive), the start of the backward pass, and the optimizer
step (all gradients, no activations). Gradients are allocated during the backward
pass, so at the loss they exist only when gradient accumulation keeps them. The step
is counted without temporaries, as with the fused AdamW that torchtune's configs select;
PyTorch's default multi-tensor AdamW briefly adds a copy of one state.

The published measurements are of different kinds, so `details` carries each:
`allocated_gib` (PyTorch's peak allocated or active bytes), `reserved_gib` (its peak
reserved bytes) and `per_gpu_gib` (everything on the device, what must fit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kfctl_ai.core.activations import (
    DTYPE_BYTES,
    backward_workspace_bytes,
    block_bytes_per_token,
    logits_bytes,
    saved_bytes,
)
from kfctl_ai.core.architecture import (
    OUTPUT_MODULE,
    Architecture,
    count_parameters,
    embedding_parameters,
    layer_linear_parameters,
)
from kfctl_ai.core.training_setup import TrainingSetup

__all__ = ["MemoryEstimate", "TrainingSetup", "estimate", "lora_parameters"]

GIB = 1024**3
# NF4 packs two weights per byte. Double quantization (QLoRA paper, Dettmers et al. 2023,
# section 2) adds an 8-bit constant per block of 64 weights and a 32-bit constant per
# 256 blocks: 8/64 + 32/(64*256) = 0.127 bits per weight. torchao's NF4Tensor, which
# torchtune uses, has the same block sizes.
NF4_BYTES_PER_PARAM = (4 + 8 / 64 + 32 / (64 * 256)) / 8
# bitsandbytes 8-bit AdamW: two uint8 states plus an fp32 scale per block of 2048 values each.
ADAMW8BIT_BYTES_PER_PARAM = 2 + 2 * 4 / 2048
# FSDP2 gathers the next layer while the current one computes.
FSDP_GATHERED_LAYERS = 2
# PyTorch's caching allocator reserves more than it hands out: freed blocks are kept
# split. NOTE: an estimate; fragmentation depends on how batch shapes vary.
ALLOCATOR_FRAGMENTATION = 0.05
# CUDA context, cuBLAS and cuDNN workspaces outside PyTorch's allocator, per process.
# NOTE: an estimate; 300-600 MiB is typical of recent drivers and PyTorch 2 builds.
CUDA_CONTEXT_GIB = 0.5
# NCCL communicator buffers outside PyTorch's allocator. NOTE: an estimate.
NCCL_BUFFERS_GIB = 0.5
BREAKDOWN_KEYS = ("weights", "gradients", "optimizer", "activations", "overhead")


@dataclass(frozen=True)
class MemoryEstimate:
    """GPU memory per GPU: the total, its breakdown in GiB, and how it was reached."""

    per_gpu_gib: float
    breakdown: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "per_gpu_gib": round(self.per_gpu_gib, 2),
            "breakdown": {key: round(value, 2) for key, value in self.breakdown.items()},
            "details": dict(self.details),
        }


def lora_parameters(arch: Architecture, setup: TrainingSetup) -> int:
    """Count LoRA adapter parameters: rank x (in + out) for each targeted module."""
    if not setup.uses_lora:
        return 0
    shapes = arch.linear_shapes()
    per_layer = sum(sum(shapes[m]) for m in setup.lora_targets if m in shapes)
    total = arch.num_hidden_layers * per_layer
    if OUTPUT_MODULE in setup.lora_targets:
        total += arch.hidden_size + arch.vocab_size
    return setup.lora_rank * total


def _weight_bytes(arch: Architecture, setup: TrainingSetup) -> tuple[float, float, float]:
    """Return (whole model, one block, root module) bytes of the stored base weights."""
    a = DTYPE_BYTES[setup.dtype]
    total = count_parameters(arch)
    block_linear = layer_linear_parameters(arch)
    root = embedding_parameters(arch) * (1 if arch.tie_word_embeddings else 2) + arch.hidden_size
    if setup.method == "qlora":
        quantized = arch.num_hidden_layers * block_linear
        block = block_linear * NF4_BYTES_PER_PARAM + arch.norms_per_layer * arch.hidden_size * a
        return quantized * NF4_BYTES_PER_PARAM + (total - quantized) * a, block, root * a
    block = (block_linear + arch.norms_per_layer * arch.hidden_size) * a
    return total * a, block, root * a


def estimate(arch: Architecture, setup: TrainingSetup) -> MemoryEstimate:
    """Estimate the peak GPU memory per GPU of training `arch` with `setup`."""
    a = DTYPE_BYTES[setup.dtype]
    world = setup.world_size
    adapters = lora_parameters(arch, setup)
    trainable = count_parameters(arch) if setup.method == "full" else adapters

    model_bytes, block_bytes, root_bytes = _weight_bytes(arch, setup)
    weights = (model_bytes + adapters * a) / world
    gathered = 0.0
    if world > 1:
        unsharded_share = 1 - 1 / world
        gathered = (FSDP_GATHERED_LAYERS * block_bytes + root_bytes) * unsharded_share
    weights += gathered

    optimizer_bytes = a * 2 if setup.optimizer == "adamw" else ADAMW8BIT_BYTES_PER_PARAM
    optimizer = trainable * optimizer_bytes / world
    all_gradients = trainable * a / world
    kept_gradients = all_gradients if setup.gradient_accumulation_steps > 1 else 0.0

    # Gradients allocated first in the backward pass, while every activation is alive:
    # the output projection's (the embedding's when tied), and under FSDP the unsharded
    # gradients of the block being reduced.
    early_gradients = 0.0
    if setup.method == "full":
        early_gradients += embedding_parameters(arch) * a
        if world > 1:
            early_gradients += FSDP_GATHERED_LAYERS * block_bytes
    elif world > 1:
        early_gradients += FSDP_GATHERED_LAYERS * adapters / arch.num_hidden_layers * a

    saved = saved_bytes(arch, setup)
    logits = logits_bytes(arch, setup)
    workspace = backward_workspace_bytes(arch, setup)
    if setup.method == "qlora":
        # One block weight at a time is dequantized to the compute dtype.
        workspace += max(i * o for i, o in arch.linear_shapes().values()) * a

    moments = {
        "loss": (kept_gradients, saved + logits),
        "backward": (max(kept_gradients, early_gradients), saved + workspace),
        "optimizer_step": (all_gradients, 0.0),
    }
    peak_moment = max(moments, key=lambda name: sum(moments[name]))
    gradients, activations = moments[peak_moment]

    allocated = weights + optimizer + gradients + activations
    reserved = allocated * (1 + ALLOCATOR_FRAGMENTATION)
    outside_allocator = CUDA_CONTEXT_GIB * GIB + (NCCL_BUFFERS_GIB * GIB if world > 1 else 0.0)
    device = reserved + outside_allocator

    breakdown = {
        "weights": weights / GIB,
        "gradients": gradients / GIB,
        "optimizer": optimizer / GIB,
        "activations": activations / GIB,
        "overhead": (device - allocated) / GIB,
    }
    details = {
        "peak_moment": peak_moment,
        "allocated_gib": round(allocated / GIB, 3),
        "reserved_gib": round(reserved / GIB, 3),
        "parameters": count_parameters(arch),
        "trainable_parameters": trainable,
        "lora_parameters": adapters,
        "sharding_factor": world,
        "tokens_per_gpu": setup.batch_size * setup.seq_len,
        "fsdp_gathered_gib": round(gathered / GIB, 3),
        "gradients_total_gib": round(all_gradients / GIB, 3),
        "saved_activations_gib": round(saved / GIB, 3),
        "block_activations_per_token_bytes": block_bytes_per_token(arch, setup),
        "logits_gib": round(logits / GIB, 3),
        "backward_workspace_gib": round(workspace / GIB, 3),
    }
    return MemoryEstimate(device / GIB, breakdown, details)
