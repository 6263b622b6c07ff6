"""The models that kfai resolves by name: Hugging Face ids, sizes and architectures.

Architectures are copied from each repository's `config.json`; the test suite checks
that the parameter count computed from them matches the published one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kfctl_ai.core.architecture import Architecture, count_parameters


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """One model of the catalog.

    `id` is the canonical Hugging Face repo id: the instruct variant where one exists,
    because the upstream Kubeflow torchtune runtimes fine-tune those. `variants` are the
    other repo ids of the same architecture (the base model, renamed repos).
    """

    id: str
    family: str
    size: str
    arch: Architecture
    gated: bool
    variants: tuple[str, ...] = ()
    torchtune_builder: str | None = None
    aliases: tuple[str, ...] = ()
    base_id: str | None = None
    parameters: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parameters", count_parameters(self.arch))

    @property
    def name(self) -> str:
        """Repo name without the organisation, e.g. `Llama-3.2-1B-Instruct`."""
        return self.id.split("/", 1)[1]

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.id, *self.variants)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "family": self.family,
            "size": self.size,
            "parameters": self.parameters,
            "gated": self.gated,
            "variants": list(self.variants),
            "torchtune_builder": self.torchtune_builder,
            "architecture": self.arch.to_dict(),
        }


def _llama(hidden: int, intermediate: int, layers: int, heads: int, kv_heads: int, vocab: int, tied: bool,
           max_positions: int, model_type: str = "llama", head_dim: int | None = None, **extra: Any) -> Architecture:
    return Architecture(
        model_type=model_type,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        vocab_size=vocab,
        tie_word_embeddings=tied,
        head_dim=head_dim,
        max_position_embeddings=max_positions,
        **extra,
    )


def _meta(size: str, family: str, builder: str, arch: Architecture, legacy_prefix: bool) -> ModelSpec:
    version = family.split("-")[1]
    base = f"meta-llama/Llama-{version}-{size}"
    variants = [base]
    if legacy_prefix:
        # Meta published Llama 3.1 as Meta-Llama-3.1-*; the Hub redirects the old names.
        variants += [f"meta-llama/Meta-Llama-{version}-{size}-Instruct", f"meta-llama/Meta-Llama-{version}-{size}"]
    return ModelSpec(f"{base}-Instruct", family, size, arch, gated=True, variants=tuple(variants),
                     torchtune_builder=builder, base_id=base)


def _qwen(size: str, builder: str, arch: Architecture) -> ModelSpec:
    base = f"Qwen/Qwen2.5-{size}"
    return ModelSpec(f"{base}-Instruct", "qwen-2.5", size, arch, gated=False, variants=(base,),
                     torchtune_builder=builder, base_id=base)


def _smollm(size: str, arch: Architecture) -> ModelSpec:
    base = f"HuggingFaceTB/SmolLM2-{size}"
    return ModelSpec(f"{base}-Instruct", "smollm-2", size, arch, gated=False, variants=(base,), base_id=base)


CATALOG: tuple[ModelSpec, ...] = (
    _meta("1B", "llama-3.2", "llama3_2_1b", _llama(2048, 8192, 16, 32, 8, 128256, True, 131072, head_dim=64), False),
    _meta("3B", "llama-3.2", "llama3_2_3b", _llama(3072, 8192, 28, 24, 8, 128256, True, 131072, head_dim=128), False),
    _meta("8B", "llama-3.1", "llama3_1_8b", _llama(4096, 14336, 32, 32, 8, 128256, False, 131072), True),
    _meta("70B", "llama-3.1", "llama3_1_70b", _llama(8192, 28672, 80, 64, 8, 128256, False, 131072), True),
    _qwen("0.5B", "qwen2_5_0_5b", _llama(896, 4864, 24, 14, 2, 151936, True, 32768, "qwen2", qkv_bias=True)),
    _qwen("1.5B", "qwen2_5_1_5b_instruct", _llama(1536, 8960, 28, 12, 2, 151936, True, 32768, "qwen2", qkv_bias=True)),
    _qwen("7B", "qwen2_5_7b_instruct", _llama(3584, 18944, 28, 28, 4, 152064, False, 32768, "qwen2", qkv_bias=True)),
    ModelSpec(
        "mistralai/Mistral-7B-Instruct-v0.3", "mistral", "7B",
        _llama(4096, 14336, 32, 32, 8, 32768, False, 32768, "mistral"),
        gated=True, variants=("mistralai/Mistral-7B-v0.3",), torchtune_builder="mistral_7b",
        aliases=("mistral 7b v0.3", "mistral 7b instruct v0.3", "mistral v0.3"), base_id="mistralai/Mistral-7B-v0.3",
    ),
    ModelSpec(
        "google/gemma-2-2b-it", "gemma-2", "2B",
        _llama(2304, 9216, 26, 8, 4, 256000, True, 8192, "gemma2", head_dim=256, norms_per_layer=4,
               attn_logit_softcapping=50.0, final_logit_softcapping=30.0),
        gated=True, variants=("google/gemma-2-2b",), torchtune_builder="gemma2_2b", base_id="google/gemma-2-2b",
    ),
    ModelSpec(
        "microsoft/Phi-3-mini-4k-instruct", "phi-3", "mini",
        _llama(3072, 8192, 32, 32, 32, 32064, False, 4096, "phi3"),
        gated=False, torchtune_builder="phi3_mini",
        aliases=("phi-3 mini 4k", "phi 3 mini 4k instruct", "phi3 3.8b", "phi-3 mini 3.8b"),
    ),
    _smollm("135M", _llama(576, 1536, 30, 9, 3, 49152, True, 8192)),
    _smollm("360M", _llama(960, 2560, 32, 15, 5, 49152, True, 8192)),
    _smollm("1.7B", _llama(2048, 8192, 24, 32, 32, 49152, True, 8192)),
    ModelSpec(
        "TinyLlama/TinyLlama-1.1B-Chat-v1.0", "tinyllama", "1.1B",
        _llama(2048, 5632, 22, 32, 4, 32000, False, 2048),
        gated=False, variants=("TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T",),
        aliases=("tinyllama 1.1b chat v1.0", "tinyllama chat"),
        base_id="TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T",
    ),
)

# Display names of the families, in catalog order and newest first within a brand.
FAMILY_LABELS = {
    "llama-3.2": "Llama 3.2",
    "llama-3.1": "Llama 3.1",
    "qwen-2.5": "Qwen2.5",
    "mistral": "Mistral 7B v0.3",
    "gemma-2": "Gemma 2",
    "phi-3": "Phi-3",
    "smollm-2": "SmolLM2",
    "tinyllama": "TinyLlama",
}
