"""The training options that decide GPU memory, validated at construction.

The option names are those of `kfai preflight` and `kfai fine-tune` (`--method`,
`--lora-rank`, ...). Defaults follow the torchtune recipes that the upstream Kubeflow
runtimes run, except where noted on the constant.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from kfctl_ai.core.architecture import ATTENTION_MODULES, LINEAR_MODULES, MLP_MODULES, OUTPUT_MODULE
from kfctl_ai.core.errors import UsageError

METHODS = ("full", "lora", "qlora")
DTYPES = ("bf16", "fp32")
OPTIMIZERS = ("adamw", "adamw8bit")
LOSSES = ("ce", "chunked-ce")

# The upstream torchtune runtimes run full_finetune_distributed, so full fine-tuning is
# the default and LoRA and QLoRA are opt-in.
DEFAULT_METHOD = "full"
DEFAULT_LORA_RANK = 8
DEFAULT_LORA_TARGETS = ("q_proj", "v_proj")
DEFAULT_BATCH_SIZE = 4
# An upper bound for instruction datasets such as Alpaca, whose samples are shorter:
# the estimate is for the longest batch, so set --seq-len to the longest one you train on.
DEFAULT_SEQ_LEN = 2048

TARGET_GROUPS = {
    "all": LINEAR_MODULES,
    "all-linear": LINEAR_MODULES,
    "attention": ATTENTION_MODULES,
    "mlp": MLP_MODULES,
}
# Names used by torchtune (output_proj, w1/w2/w3), by fused Phi-3 modules, and for the output head.
TARGET_ALIASES = {
    "output_proj": ("o_proj",),
    "w1": ("gate_proj",),
    "w2": ("down_proj",),
    "w3": ("up_proj",),
    "qkv_proj": ("q_proj", "k_proj", "v_proj"),
    "gate_up_proj": ("gate_proj", "up_proj"),
    "output": (OUTPUT_MODULE,),
}
_TARGET_ORDER = LINEAR_MODULES + (OUTPUT_MODULE,)


def parse_lora_targets(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Expand `q_proj,v_proj`, `all`, `attention`, `mlp` or a list of such names into module names."""
    items = re.split(r"[\s,;]+", value.strip()) if isinstance(value, str) else [str(v).strip() for v in value]
    modules: set[str] = set()
    for item in filter(None, (i.lower() for i in items)):
        if item in TARGET_GROUPS:
            modules.update(TARGET_GROUPS[item])
        elif item in TARGET_ALIASES:
            modules.update(TARGET_ALIASES[item])
        elif item in _TARGET_ORDER:
            modules.add(item)
        else:
            known = ", ".join(_TARGET_ORDER + tuple(TARGET_GROUPS))
            raise UsageError(
                f"invalid lora_targets: unknown module '{item}'",
                hint=f"use a comma-separated list of {known}",
                field="lora_targets",
            )
    if not modules:
        raise UsageError("invalid lora_targets: the list is empty", hint="name at least one module, e.g. q_proj,v_proj",
                         field="lora_targets")
    return tuple(m for m in _TARGET_ORDER if m in modules)


@dataclass(frozen=True)
class TrainingSetup:
    """Options of one training run, per GPU and across the job.

    `batch_size` is the micro-batch per GPU and `seq_len` the padded or packed length of
    its longest batch. `gpus` counts GPUs per node. With more than one GPU in all, the
    model is sharded with FSDP (full shard), as torchtune's distributed recipes do.
    `dtype` bf16 means pure bf16: weights, gradients and optimizer states all in bf16.
    `gradient_accumulation_steps` above 1 keeps the gradients alive through the next
    forward pass.
    """

    method: str = DEFAULT_METHOD
    lora_rank: int = DEFAULT_LORA_RANK
    lora_targets: tuple[str, ...] | str = DEFAULT_LORA_TARGETS
    dtype: str = "bf16"
    optimizer: str = "adamw"
    batch_size: int = DEFAULT_BATCH_SIZE
    seq_len: int = DEFAULT_SEQ_LEN
    gradient_checkpointing: bool = True
    loss: str = "chunked-ce"
    gpus: int = 1
    nodes: int = 1
    gradient_accumulation_steps: int = 1

    def __post_init__(self) -> None:
        _check_choice("method", self.method, METHODS)
        _check_choice("dtype", self.dtype, DTYPES)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("loss", self.loss, LOSSES)
        for name in ("lora_rank", "batch_size", "seq_len", "gpus", "nodes", "gradient_accumulation_steps"):
            _check_positive_int(name, getattr(self, name))
        if not isinstance(self.gradient_checkpointing, bool):
            raise UsageError(
                f"invalid gradient_checkpointing: must be true or false, got {self.gradient_checkpointing!r}",
                field="gradient_checkpointing",
            )
        object.__setattr__(self, "lora_targets", parse_lora_targets(self.lora_targets))

    @property
    def world_size(self) -> int:
        return self.gpus * self.nodes

    @property
    def uses_lora(self) -> bool:
        return self.method in ("lora", "qlora")

    def to_dict(self) -> dict[str, Any]:
        """Return the options under their command-line names, LoRA targets as a comma list."""
        values = asdict(self)
        values["lora_targets"] = ",".join(self.lora_targets)
        return values


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UsageError(
            f"invalid {name}: must be one of {', '.join(choices)}, got {value!r}",
            hint=f"--{name.replace('_', '-')} {'|'.join(choices)}",
            field=name,
        )


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"invalid {name}: must be a positive integer, got {value!r}", field=name)
