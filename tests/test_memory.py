"""Memory estimator behaviour, training-setup validation, GPU table and fixes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kfctl_ai.core.errors import UnknownNameError, UsageError
from kfctl_ai.core.fixes import suggest_fixes
from kfctl_ai.core.gpus import memory_for_product, product_matches, resolve_gpu_type, usable_memory_gib
from kfctl_ai.core.memory import (
    BREAKDOWN_KEYS,
    GIB,
    NF4_BYTES_PER_PARAM,
    MemoryEstimate,
    TrainingSetup,
    estimate,
    lora_parameters,
)
from kfctl_ai.core.models import resolve_model

LLAMA_1B = resolve_model("llama 3.2 1b").spec.arch
LLAMA_8B = resolve_model("llama 3.1 8b").spec.arch
QWEN_7B = resolve_model("qwen2.5 7b").spec.arch
# A LoRA setup with no gradient checkpointing, so activations show every change.
LORA = TrainingSetup(method="lora", batch_size=2, seq_len=1024, gradient_checkpointing=False, loss="ce")


def memory(arch=LLAMA_8B, **changes) -> MemoryEstimate:
    return estimate(arch, replace(LORA, **changes))


def test_breakdown_has_exact_keys() -> None:
    result = memory()
    assert tuple(result.breakdown) == BREAKDOWN_KEYS


@pytest.mark.parametrize("method", ["full", "lora", "qlora"])
@pytest.mark.parametrize("gpus", [1, 4])
def test_breakdown_sums_to_total(method: str, gpus: int) -> None:
    result = memory(method=method, gpus=gpus)
    assert sum(result.breakdown.values()) == pytest.approx(result.per_gpu_gib)


def test_to_dict_shape() -> None:
    payload = memory().to_dict()
    assert set(payload) == {"per_gpu_gib", "breakdown", "details"}
    assert set(payload["breakdown"]) == set(BREAKDOWN_KEYS)
    assert payload["details"]["trainable_parameters"] == payload["details"]["lora_parameters"]


def test_memory_grows_with_batch_size() -> None:
    sizes = [memory(batch_size=b).per_gpu_gib for b in (1, 2, 4, 8)]
    assert sizes == sorted(sizes)
    assert sizes[-1] > sizes[0] + 10


def test_memory_grows_with_sequence_length() -> None:
    sizes = [memory(seq_len=s).per_gpu_gib for s in (256, 1024, 4096)]
    assert sizes == sorted(sizes)
    assert sizes[-1] > sizes[0] + 10


def test_activations_scale_linearly_with_tokens() -> None:
    """Flash attention keeps no seq x seq scores, so doubling seq_len doubles activations."""
    short = memory(seq_len=1024).breakdown["activations"]
    long = memory(seq_len=2048).breakdown["activations"]
    assert long == pytest.approx(2 * short, rel=0.01)


def test_checkpointing_lowers_activations() -> None:
    without = memory(gradient_checkpointing=False)
    with_checkpointing = memory(gradient_checkpointing=True)
    assert with_checkpointing.breakdown["activations"] < without.breakdown["activations"] / 2
    assert with_checkpointing.per_gpu_gib < without.per_gpu_gib


def test_chunked_ce_lowers_logits() -> None:
    plain = memory(loss="ce")
    chunked = memory(loss="chunked-ce")
    assert chunked.details["logits_gib"] < plain.details["logits_gib"] / 2
    assert chunked.per_gpu_gib < plain.per_gpu_gib


def test_qlora_below_lora_below_full() -> None:
    full = memory(method="full").per_gpu_gib
    lora = memory(method="lora").per_gpu_gib
    qlora = memory(method="qlora").per_gpu_gib
    assert qlora < lora < full


def test_full_fine_tune_counts_all_states() -> None:
    result = estimate(LLAMA_8B, TrainingSetup(method="full", batch_size=1, seq_len=512))
    parameters = result.details["parameters"]
    assert result.breakdown["optimizer"] == pytest.approx(parameters * 4 / GIB)  # two bf16 AdamW states
    assert result.details["gradients_total_gib"] == pytest.approx(parameters * 2 / GIB, rel=1e-3)
    assert result.details["peak_moment"] == "optimizer_step"


def test_qlora_weights_are_nf4_plus_bf16_embeddings() -> None:
    result = memory(method="qlora")
    arch = LLAMA_8B
    embeddings = 2 * arch.vocab_size * arch.hidden_size  # untied: input and output
    quantized = result.details["parameters"] - embeddings - (2 * arch.num_hidden_layers + 1) * arch.hidden_size
    expected = quantized * NF4_BYTES_PER_PARAM + (result.details["parameters"] - quantized) * 2
    expected += lora_parameters(arch, replace(LORA, method="qlora")) * 2
    assert result.breakdown["weights"] == pytest.approx(expected / GIB)
    assert NF4_BYTES_PER_PARAM == pytest.approx(0.5 + 0.127 / 8, abs=1e-4)


def test_lora_parameters_use_gqa_shapes() -> None:
    setup = replace(LORA, lora_rank=8, lora_targets="q_proj,v_proj")
    # q: 4096 -> 4096, v: 4096 -> 1024 (8 key-value heads of 128)
    assert lora_parameters(LLAMA_8B, setup) == 32 * 8 * ((4096 + 4096) + (4096 + 1024))
    assert lora_parameters(LLAMA_8B, replace(setup, method="full")) == 0


def test_lora_targets_change_trainable_and_activations() -> None:
    attention = memory(lora_targets="q_proj,v_proj")
    everything = memory(lora_targets="all")
    assert everything.details["lora_parameters"] > attention.details["lora_parameters"]
    assert everything.details["block_activations_per_token_bytes"] > attention.details["block_activations_per_token_bytes"]


def test_rank_raises_adapter_memory() -> None:
    assert memory(lora_rank=64).details["lora_parameters"] == 8 * memory(lora_rank=8).details["lora_parameters"]


def test_more_gpus_shard_states_not_activations() -> None:
    setup = TrainingSetup(method="full", batch_size=2, seq_len=1024, gradient_checkpointing=False)
    single_gpu = estimate(QWEN_7B, setup)
    eight_gpus = estimate(QWEN_7B, replace(setup, gpus=8))
    states = ("weights", "optimizer")
    assert sum(eight_gpus.breakdown[k] for k in states) < sum(single_gpu.breakdown[k] for k in states) / 3
    gradients = single_gpu.details["gradients_total_gib"]
    assert eight_gpus.details["gradients_total_gib"] == pytest.approx(gradients / 8, rel=1e-3)
    assert eight_gpus.details["saved_activations_gib"] == single_gpu.details["saved_activations_gib"]
    assert eight_gpus.details["fsdp_gathered_gib"] > 0
    assert eight_gpus.per_gpu_gib < single_gpu.per_gpu_gib


def test_nodes_shard_like_gpus() -> None:
    assert memory(method="full", nodes=4).per_gpu_gib == pytest.approx(memory(method="full", gpus=4).per_gpu_gib)


def test_adamw8bit_quarters_bf16_states() -> None:
    adamw = memory(method="full", optimizer="adamw").breakdown["optimizer"]
    eight_bit = memory(method="full", optimizer="adamw8bit").breakdown["optimizer"]
    assert eight_bit == pytest.approx(adamw / 2, rel=0.01)  # 2 bytes instead of two bf16 states


def test_fp32_doubles_weights() -> None:
    bf16 = memory(dtype="bf16")
    fp32 = memory(dtype="fp32")
    assert fp32.breakdown["weights"] == pytest.approx(2 * bf16.breakdown["weights"])
    assert fp32.per_gpu_gib > bf16.per_gpu_gib


def test_gradient_accumulation_keeps_gradients() -> None:
    setup = TrainingSetup(method="full", batch_size=4, seq_len=2048, gradient_checkpointing=False, loss="ce")
    once = estimate(LLAMA_1B, setup)
    accumulated = estimate(LLAMA_1B, replace(setup, gradient_accumulation_steps=4))
    assert once.details["peak_moment"] == "loss"
    assert accumulated.breakdown["gradients"] == pytest.approx(accumulated.details["gradients_total_gib"], rel=1e-3)
    assert accumulated.per_gpu_gib > once.per_gpu_gib


def test_gemma2_softcapping_costs_scores() -> None:
    gemma = resolve_model("gemma 2 2b").spec.arch
    capped = estimate(gemma, LORA)
    uncapped = estimate(replace(gemma, attn_logit_softcapping=None), LORA)
    assert capped.details["block_activations_per_token_bytes"] > uncapped.details["block_activations_per_token_bytes"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"method": "sgd"}, "method"),
        ({"lora_rank": 0}, "lora_rank"),
        ({"lora_targets": "q_proj,x_proj"}, "lora_targets"),
        ({"lora_targets": ""}, "lora_targets"),
        ({"dtype": "fp16"}, "dtype"),
        ({"optimizer": "sgd"}, "optimizer"),
        ({"batch_size": 0}, "batch_size"),
        ({"seq_len": -1}, "seq_len"),
        ({"gradient_checkpointing": "yes"}, "gradient_checkpointing"),
        ({"loss": "mse"}, "loss"),
        ({"gpus": 0}, "gpus"),
        ({"nodes": 1.5}, "nodes"),
        ({"batch_size": True}, "batch_size"),
    ],
)
def test_setup_validation_names_field(changes: dict, field: str) -> None:
    with pytest.raises(UsageError) as caught:
        TrainingSetup(**changes)
    assert caught.value.message.startswith(f"invalid {field}:")
    assert caught.value.details["field"] == field


def test_setup_defaults() -> None:
    setup = TrainingSetup()
    assert setup.method == "full"
    assert setup.lora_rank == 8
    assert setup.lora_targets == ("q_proj", "v_proj")
    assert setup.gradient_checkpointing is True
    assert setup.loss == "chunked-ce"
    assert setup.dtype == "bf16"
    assert setup.to_dict()["lora_targets"] == "q_proj,v_proj"


@pytest.mark.parametrize(
    ("text", "modules"),
    [
        ("all", ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")),
        ("attention", ("q_proj", "k_proj", "v_proj", "o_proj")),
        ("mlp", ("gate_proj", "up_proj", "down_proj")),
        ("v_proj; q_proj", ("q_proj", "v_proj")),
        ("q_proj,output_proj,mlp", ("q_proj", "o_proj", "gate_proj", "up_proj", "down_proj")),
        ("qkv_proj", ("q_proj", "k_proj", "v_proj")),
        ("all,lm_head", ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head")),
    ],
)
def test_lora_targets_expand(text: str, modules: tuple[str, ...]) -> None:
    assert TrainingSetup(method="lora", lora_targets=text).lora_targets == modules


@pytest.mark.parametrize(
    ("name", "product", "gib"),
    [
        ("a100", "NVIDIA-A100-SXM4-40GB", 39.6),
        ("a100-80gb", "NVIDIA-A100-SXM4-80GB", 79.2),
        ("H100", "NVIDIA-H100-80GB-HBM3", 78.9),
        ("l4", "NVIDIA-L4", 22.3),
        ("t4", "Tesla-T4", 14.85),
        ("a10g", "NVIDIA-A10G", 22.3),
        ("4090", "NVIDIA-GeForce-RTX-4090", 23.7),
        ("NVIDIA-L40S", "NVIDIA-L40S", 44.5),
    ],
)
def test_gpu_types_resolve(name: str, product: str, gib: float) -> None:
    gpu = resolve_gpu_type(name)
    assert gpu.product == product
    assert gpu.memory_gib == pytest.approx(gib, abs=0.05)


def test_gpu_usable_memory_of_80gb_card() -> None:
    assert usable_memory_gib(81920) == pytest.approx(79.2, abs=0.05)
    assert memory_for_product("NVIDIA-A100-SXM4-80GB") == pytest.approx(79.2, abs=0.05)
    assert memory_for_product("NVIDIA-L4-SHARED") == pytest.approx(usable_memory_gib(23034))
    assert memory_for_product("NVIDIA-B999") is None


def test_gpu_type_miss_suggests() -> None:
    with pytest.raises(UnknownNameError) as caught:
        resolve_gpu_type("h10")
    assert "h100" in caught.value.suggestions
    assert len(caught.value.suggestions) <= 3
    assert "GPU type" in caught.value.message


@pytest.mark.parametrize(
    ("gpu_type", "product", "matches"),
    [
        ("a100", "NVIDIA-A100-SXM4-80GB", True),
        ("a100-80gb", "NVIDIA-A100-SXM4-40GB", False),
        ("l4", "NVIDIA-L40S", False),
        ("h100", "NVIDIA-H100-80GB-HBM3", True),
        ("a40", "NVIDIA-A40", True),
    ],
)
def test_gpu_product_matches(gpu_type: str, product: str, matches: bool) -> None:
    assert product_matches(gpu_type, product) is matches


def test_fixes_rank_fitting_first_and_reestimate() -> None:
    setup = TrainingSetup(method="full", batch_size=4, seq_len=2048, gradient_checkpointing=False, loss="ce")
    gpu = 40.0
    assert estimate(LLAMA_8B, setup).per_gpu_gib > gpu
    fixes = suggest_fixes(LLAMA_8B, setup, gpu, ["a100-80gb", "h200", "nonsense"])
    assert fixes
    fitting = [f.fits for f in fixes]
    assert fitting == sorted(fitting, reverse=True)
    for fix in fixes:
        changed = {k: v for k, v in fix.changes.items() if k != "gpu_type"}
        assert fix.per_gpu_gib == pytest.approx(estimate(LLAMA_8B, replace(setup, **changed)).per_gpu_gib)
        assert fix.fits == (fix.per_gpu_gib <= gpu or "gpu_type" in fix.changes)
    options = {option for fix in fixes for option in fix.changes}
    assert {"method", "gpus", "gpu_type", "gradient_checkpointing", "loss"} <= options
    # 80 GB is too small for this setup, so the bigger GPU offered is the H200.
    assert [f.changes for f in fixes if "gpu_type" in f.changes] == [{"gpu_type": "h200"}]


def test_fixes_least_disruptive_first() -> None:
    setup = TrainingSetup(method="lora", batch_size=2, seq_len=2048, gradient_checkpointing=False)
    fixes = suggest_fixes(LLAMA_8B, setup, 24.0)
    assert fixes[0].fits
    assert fixes[0].changes == {"gradient_checkpointing": True}


def test_fixes_combine_when_no_single_change_fits() -> None:
    setup = TrainingSetup(method="full", batch_size=8, seq_len=2048, gradient_checkpointing=False, loss="ce")
    seventy_b = resolve_model("llama 3.1 70b").spec.arch
    fixes = suggest_fixes(seventy_b, setup, 22.0)
    assert fixes[0].title.startswith("combine:")
    assert fixes[0].fits
    assert len(fixes[0].changes) > 1
    assert all(not f.fits for f in fixes[1:])


def test_fix_to_dict() -> None:
    fix = suggest_fixes(LLAMA_8B, TrainingSetup(), 20.0)[0]
    assert set(fix.to_dict()) == {"title", "changes", "per_gpu_gib", "fits"}


def test_help_states_estimator_defaults():
    """The defaults printed by `--help` are the ones the estimator uses."""
    from kfctl_ai.cli import options
    from kfctl_ai.core import training_setup

    def help_of(alias):
        return alias.__metadata__[0].help

    assert f"(default: {training_setup.DEFAULT_BATCH_SIZE})" in help_of(options.BatchSize)
    assert f"(default: {training_setup.DEFAULT_SEQ_LEN})" in help_of(options.SeqLen)
    assert f"(default: {training_setup.DEFAULT_LORA_RANK})" in help_of(options.LoraRank)
    assert f"default: {training_setup.DEFAULT_METHOD}" in help_of(options.Method)
