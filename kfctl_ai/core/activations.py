"""Bytes that autograd keeps for the backward pass, per token, for a Llama-style block.

The counts follow what each operation saves in PyTorch eager mode:
- RMSNorm upcasts its input to fp32 and keeps it (4 bytes x hidden); it keeps its
  normalized output only when its own weight trains.
- A linear layer keeps its input only when its weight or a LoRA adapter on it trains:
  a frozen weight needs only itself to pass the gradient on.
- SDPA with flash or memory-efficient kernels keeps q, k, v, the output and a
  log-sum-exp per head, never the seq x seq score matrix. For grouped-query attention
  torchtune, and transformers when a padding mask is passed, expand k and v to the
  query heads first, so k and v are kept at query width.
- Gemma 2 caps attention scores with tanh. Eager attention, which transformers
  recommends for training Gemma 2, keeps score-sized tensors (seq per head per token).
  NOTE: flash-attn 2.6 and later apply the cap without keeping scores, so this
  over-counts runs that use it.
- The gated MLP keeps the gate output (SiLU input), the SiLU output and the up output.
With gradient checkpointing each block keeps only its input, and the backward pass
recomputes one block at a time.
"""

from __future__ import annotations

from kfctl_ai.core.architecture import Architecture, OUTPUT_MODULE
from kfctl_ai.core.training_setup import TrainingSetup

DTYPE_BYTES = {"bf16": 2, "fp32": 4}
FP32 = 4
# torchtune's CEWithChunkedOutputLoss splits the logits into 8 chunks (num_output_chunks).
CE_CHUNKS = 8
# Score-sized tensors that eager softcapped attention keeps per head: the scaled
# scores, their tanh, and the softmax output.
SOFTCAP_SCORE_TENSORS = 3


def _trains(setup: TrainingSetup, module: str) -> bool:
    return setup.method == "full" or module in setup.lora_targets


def block_bytes_per_token(arch: Architecture, setup: TrainingSetup) -> int:
    """Bytes one block keeps per token without gradient checkpointing."""
    a = DTYPE_BYTES[setup.dtype]
    h, i = arch.hidden_size, arch.intermediate_size
    full = setup.method == "full"
    total = 0

    # Attention: input norm, projections, SDPA.
    total += FP32 * h + (a * h if full else 0)
    if any(_trains(setup, m) for m in ("q_proj", "k_proj", "v_proj")):
        total += a * h
    total += 4 * a * arch.q_dim + FP32 * arch.num_attention_heads
    if arch.attn_logit_softcapping:
        total += SOFTCAP_SCORE_TENSORS * a * arch.num_attention_heads * setup.seq_len
    if _trains(setup, "o_proj"):
        total += a * arch.q_dim

    # Gemma 2's extra norms after attention and after the MLP.
    total += (arch.norms_per_layer - 2) * (FP32 * h + (a * h if full else 0))

    # MLP: norm, gate and up projections, SiLU and product, down projection.
    total += FP32 * h + (a * h if full else 0)
    if _trains(setup, "gate_proj") or _trains(setup, "up_proj"):
        total += a * h
    total += 3 * a * i
    if _trains(setup, "down_proj"):
        total += a * i

    # LoRA keeps the rank-wide output of each adapter's A matrix for B's gradient.
    if setup.uses_lora:
        total += a * setup.lora_rank * sum(1 for m in setup.lora_targets if m != OUTPUT_MODULE)
    return total


def head_bytes_per_token(arch: Architecture, setup: TrainingSetup) -> int:
    """Bytes the final norm and the output projection keep per token."""
    a = DTYPE_BYTES[setup.dtype]
    h = arch.hidden_size
    full = setup.method == "full"
    total = FP32 * h + (a * h if full else 0)
    if _trains(setup, OUTPUT_MODULE):
        total += a * h
    if setup.uses_lora and OUTPUT_MODULE in setup.lora_targets:
        total += a * setup.lora_rank
    return total


def saved_bytes(arch: Architecture, setup: TrainingSetup) -> int:
    """Bytes kept for backward across all blocks at the end of the forward pass, per GPU."""
    tokens = setup.batch_size * setup.seq_len
    if setup.gradient_checkpointing:
        per_block = DTYPE_BYTES[setup.dtype] * arch.hidden_size
    else:
        per_block = block_bytes_per_token(arch, setup)
    return tokens * (arch.num_hidden_layers * per_block + head_bytes_per_token(arch, setup))


def logits_bytes(arch: Architecture, setup: TrainingSetup) -> int:
    """Peak bytes of the logits and the cross-entropy, per GPU.

    The logits in the training dtype, plus three fp32 vocabulary-wide buffers at the
    start of backward: the log-probabilities kept by log-softmax, and the incoming and
    outgoing gradient of log-softmax. Plain `ce` keeps the three buffers for the whole
    batch, while `chunked-ce` upcasts and differentiates one chunk at a time.

    NOTE: this counts `chunked-ce` as torchtune runs it under torch.compile, which is
    how its published memory figures were measured. In eager mode (compile: False)
    log-softmax keeps every chunk's fp32 log-probabilities until backward, about
    4 bytes x vocabulary per token more than counted here.
    """
    a = DTYPE_BYTES[setup.dtype]
    vocab = arch.vocab_size
    fp32_buffers = 3 * FP32 * vocab
    if setup.loss == "chunked-ce":
        fp32_buffers //= CE_CHUNKS
    per_token = a * vocab + fp32_buffers
    if arch.final_logit_softcapping:
        per_token += a * vocab  # the tanh output kept for its gradient
    return setup.batch_size * setup.seq_len * per_token


def backward_workspace_bytes(arch: Architecture, setup: TrainingSetup) -> int:
    """Bytes in use while one block runs backward, beyond what the forward pass saved.

    The gradients of the block's intermediate tensors (two MLP-wide and two hidden-wide
    at once), plus, with gradient checkpointing, the recomputed activations of the block.
    """
    a = DTYPE_BYTES[setup.dtype]
    tokens = setup.batch_size * setup.seq_len
    workspace = tokens * a * (2 * arch.intermediate_size + 2 * arch.hidden_size)
    if setup.gradient_checkpointing:
        workspace += tokens * block_bytes_per_token(arch, setup)
    return workspace
