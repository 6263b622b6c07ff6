"""Decoder architectures: the fields of a Hugging Face `config.json` that size a model.

The estimator and the parameter count work on `Architecture`, a Llama-style decoder:
token embeddings, blocks of grouped-query attention and a gated MLP, RMSNorm, and an
output projection that may share the embedding matrix. Llama, Mistral, Qwen2, Gemma 2,
Phi-3, SmolLM2 and TinyLlama all have this shape; `arch_from_hf_config` reads any
config that spells out these fields.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kfctl_ai.core.errors import UsageError

# Per-module names used for LoRA targets. The fused Phi-3 projections (qkv_proj,
# gate_up_proj) are counted as their parts, which gives the same parameter count.
ATTENTION_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP_MODULES = ("gate_proj", "up_proj", "down_proj")
LINEAR_MODULES = ATTENTION_MODULES + MLP_MODULES
OUTPUT_MODULE = "lm_head"

# Default of `tie_word_embeddings` when a config leaves it out: the default of each
# transformers config class, and True (PretrainedConfig's) for other model types.
_TIED_BY_DEFAULT = {"llama": False, "mistral": False, "qwen2": False, "phi3": False, "gemma": True, "gemma2": True}
_NORMS_PER_LAYER = {"gemma2": 4}
_REQUIRED_FIELDS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size")


@dataclass(frozen=True)
class Architecture:
    """A Llama-style decoder, in the field names of a Hugging Face `config.json`."""

    model_type: str
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    vocab_size: int
    tie_word_embeddings: bool
    head_dim: int | None = None
    max_position_embeddings: int | None = None
    # Qwen2 has biases on q, k and v. Llama's `attention_bias` adds them to q, k, v and o.
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    # Gemma 2 adds a norm after attention and one after the MLP.
    norms_per_layer: int = 2
    # Gemma 2 caps attention scores with tanh, and eager attention computes them explicitly.
    attn_logit_softcapping: float | None = None
    final_logit_softcapping: float | None = None

    def __post_init__(self) -> None:
        for name in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                     "num_key_value_heads", "vocab_size", "norms_per_layer"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise UsageError(f"invalid architecture: {name} must be a positive integer, got {value!r}")
        if self.head_dim is not None and self.head_dim <= 0:
            raise UsageError(f"invalid architecture: head_dim must be a positive integer, got {self.head_dim!r}")
        if self.num_attention_heads % self.num_key_value_heads:
            raise UsageError(
                "invalid architecture: num_attention_heads must be a multiple of num_key_value_heads, "
                f"got {self.num_attention_heads} and {self.num_key_value_heads}"
            )

    @property
    def attention_head_dim(self) -> int:
        return self.head_dim or self.hidden_size // self.num_attention_heads

    @property
    def q_dim(self) -> int:
        """Width of the query projection output (heads x head_dim)."""
        return self.num_attention_heads * self.attention_head_dim

    @property
    def kv_dim(self) -> int:
        """Width of the key and of the value projection output."""
        return self.num_key_value_heads * self.attention_head_dim

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """Return (in_features, out_features) of each linear module in one block."""
        h, i = self.hidden_size, self.intermediate_size
        return {
            "q_proj": (h, self.q_dim),
            "k_proj": (h, self.kv_dim),
            "v_proj": (h, self.kv_dim),
            "o_proj": (self.q_dim, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def layer_linear_parameters(arch: Architecture) -> int:
    """Count the weights and biases of the linear modules of one block."""
    total = sum(fan_in * fan_out for fan_in, fan_out in arch.linear_shapes().values())
    if arch.qkv_bias:
        total += arch.q_dim + 2 * arch.kv_dim
    if arch.o_bias:
        total += arch.hidden_size
    if arch.mlp_bias:
        total += 2 * arch.intermediate_size + arch.hidden_size
    return total


def embedding_parameters(arch: Architecture) -> int:
    return arch.vocab_size * arch.hidden_size


def count_parameters(arch: Architecture) -> int:
    """Count the parameters of the model, as `sum(p.numel())` over a loaded model does.

    Embeddings, per block the attention (grouped-query shapes, optional biases), the
    gated MLP and the RMSNorm weights, the final norm, and the output projection unless
    it is tied to the embeddings.
    """
    per_layer = layer_linear_parameters(arch) + arch.norms_per_layer * arch.hidden_size
    total = embedding_parameters(arch) + arch.num_hidden_layers * per_layer + arch.hidden_size
    if not arch.tie_word_embeddings:
        total += embedding_parameters(arch)
    return total


def arch_from_hf_config(path_or_dict: str | Path | dict[str, Any]) -> Architecture:
    """Read an `Architecture` from a Hugging Face `config.json` path or its parsed dict.

    Raises `UsageError` naming the file and the field when the file is unreadable, a
    required field is missing or invalid, or the model is a mixture of experts.
    """
    if isinstance(path_or_dict, dict):
        config, source = path_or_dict, "model config"
    else:
        config, source = _read_json(Path(path_or_dict)), f"model config {path_or_dict}"

    hint = "pass the model's config.json from its Hugging Face repository with --model-config PATH"
    experts = config.get("num_local_experts") or config.get("num_experts") or config.get("n_routed_experts")
    if experts:
        raise UsageError(
            f"{source}: mixture-of-experts models ({experts} experts) are not supported by the memory estimate",
            hint="kfai estimates dense decoders such as Llama, Mistral, Qwen2, Gemma 2 and Phi-3",
        )
    missing = [name for name in _REQUIRED_FIELDS if config.get(name) is None]
    if missing:
        raise UsageError(f"{source}: missing field '{missing[0]}'", hint=hint, missing=missing)

    model_type = str(config.get("model_type") or "unknown")
    heads = _positive_int(config, "num_attention_heads", source)
    kv_heads = config.get("num_key_value_heads")
    tied = config.get("tie_word_embeddings")
    if tied is None:
        tied = _TIED_BY_DEFAULT.get(model_type, True)
    attention_bias = bool(config.get("attention_bias", False))
    return Architecture(
        model_type=model_type,
        hidden_size=_positive_int(config, "hidden_size", source),
        intermediate_size=_positive_int(config, "intermediate_size", source),
        num_hidden_layers=_positive_int(config, "num_hidden_layers", source),
        num_attention_heads=heads,
        num_key_value_heads=heads if kv_heads is None else _positive_int(config, "num_key_value_heads", source),
        vocab_size=_positive_int(config, "vocab_size", source),
        tie_word_embeddings=bool(tied),
        head_dim=None if config.get("head_dim") is None else _positive_int(config, "head_dim", source),
        max_position_embeddings=config.get("max_position_embeddings"),
        qkv_bias=model_type == "qwen2" or attention_bias,
        o_bias=attention_bias,
        mlp_bias=bool(config.get("mlp_bias", False)),
        norms_per_layer=_NORMS_PER_LAYER.get(model_type, 2),
        attn_logit_softcapping=config.get("attn_logit_softcapping"),
        final_logit_softcapping=config.get("final_logit_softcapping"),
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"model config not found: {path}", hint="give the path of a config.json file") from None
    except OSError as exc:
        raise UsageError(f"cannot read model config {path}: {exc.strerror}") from exc
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"model config {path} is not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    if not isinstance(config, dict):
        raise UsageError(f"model config {path} must be a JSON object, got {type(config).__name__}")
    return config


def _positive_int(config: dict[str, Any], name: str, source: str) -> int:
    value = config[name]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError(f"{source}: field '{name}' must be a positive integer, got {value!r}")
    return value
