"""Typed option aliases shared by `preflight` and `fine-tune`, defined once.

Defaults of None mean "what the runtime's torchtune recipe runs": bf16, AdamW, gradient
checkpointing on, chunked cross-entropy, and the runtime's GPUs per node.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from kfctl_ai.cli.completion import complete_runtime_names

TRAINING = "Training setup"
HARDWARE = "GPUs and cluster"

Method = Annotated[Optional[Literal["full", "lora", "qlora"]], typer.Option("--method", help="full, lora or qlora (default: full, as the upstream torchtune runtimes run).", rich_help_panel=TRAINING)]
LoraRank = Annotated[Optional[int], typer.Option("--lora-rank", min=1, help="LoRA rank (default: 8).", rich_help_panel=TRAINING)]
LoraTargets = Annotated[Optional[str], typer.Option("--lora-targets", help="Comma-separated modules (q_proj,v_proj,...) or all, attention, mlp (default: q_proj,v_proj).", rich_help_panel=TRAINING)]
Dtype = Annotated[Optional[Literal["bf16", "fp32"]], typer.Option("--dtype", help="bf16 (pure bf16 weights, gradients and optimizer states, as torchtune trains) or fp32 (default: bf16).", rich_help_panel=TRAINING)]
Optimizer = Annotated[Optional[Literal["adamw", "adamw8bit"]], typer.Option("--optimizer", help="adamw or adamw8bit (default: adamw).", rich_help_panel=TRAINING)]
BatchSize = Annotated[Optional[int], typer.Option("--batch-size", min=1, help="Samples per GPU per step (default: 4).", rich_help_panel=TRAINING)]
SeqLen = Annotated[Optional[int], typer.Option("--seq-len", min=1, help="Tokens per sample, for the memory estimate (default: 2048).", rich_help_panel=TRAINING)]
GradientCheckpointing = Annotated[Optional[bool], typer.Option("--gradient-checkpointing/--no-gradient-checkpointing", help="Recompute activations in the backward pass (default: on).", rich_help_panel=TRAINING, show_default=False)]
Loss = Annotated[Optional[Literal["ce", "chunked-ce"]], typer.Option("--loss", help="ce, or chunked-ce: torchtune's chunked cross-entropy, which does not keep the full fp32 logits in memory (default: chunked-ce).", rich_help_panel=TRAINING)]
Gpus = Annotated[Optional[int], typer.Option("--gpus", min=1, help="GPUs per node (default: the runtime's, else 1).", rich_help_panel=HARDWARE)]
Nodes = Annotated[Optional[int], typer.Option("--nodes", min=1, help="Number of nodes (default: the runtime's, else 1).", rich_help_panel=HARDWARE)]
GpuMemory = Annotated[Optional[float], typer.Option("--gpu-memory", min=1, help="GPU memory in GiB, for an estimate without a cluster.", rich_help_panel=HARDWARE)]
GpuType = Annotated[Optional[str], typer.Option("--gpu-type", help="GPU type such as a100-80gb, h100, l4 (memory from kfai's table).", rich_help_panel=HARDWARE)]
ModelConfig = Annotated[Optional[str], typer.Option("--model-config", help="A Hugging Face config.json for a model outside the catalog.", rich_help_panel=TRAINING)]
Runtime = Annotated[Optional[str], typer.Option("--runtime", autocompletion=complete_runtime_names, help="TrainingRuntime or ClusterTrainingRuntime to use (default: the best match for the model).", rich_help_panel=HARDWARE)]
HfTokenSecret = Annotated[Optional[str], typer.Option("--hf-token-secret", help="Kubernetes Secret NAME[:KEY] holding a Hugging Face token for gated models (key default: HF_TOKEN).", rich_help_panel=HARDWARE)]
