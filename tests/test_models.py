"""Model catalog: parameter counts, name resolution and config.json parsing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kfctl_ai.core.errors import UnknownNameError, UsageError
from kfctl_ai.core.models import (
    arch_from_hf_config,
    count_parameters,
    get_model,
    list_models,
    resolve_model,
)

DATA = Path(__file__).parent / "data"

# Published parameter counts: the safetensors total that the Hugging Face Hub API
# reports for each repository (`safetensors.total` of /api/models/<repo>), which is
# what `sum(p.numel() for p in model.parameters())` gives for the loaded model.
# Llama-3.2-3B is also confirmed by huggingface/peft's MetaMathQA results
# (lora--llama-3.2-3B-rank32.json: num_total_params 3,221,924,864 minus 9,175,040
# LoRA parameters).
PUBLISHED_PARAMETERS = {
    "meta-llama/Llama-3.2-1B-Instruct": 1_235_814_400,
    "meta-llama/Llama-3.2-3B-Instruct": 3_212_749_824,
    "meta-llama/Llama-3.1-8B-Instruct": 8_030_261_248,
    "meta-llama/Llama-3.1-70B-Instruct": 70_553_706_496,
    "Qwen/Qwen2.5-0.5B-Instruct": 494_032_768,
    "Qwen/Qwen2.5-1.5B-Instruct": 1_543_714_304,
    "Qwen/Qwen2.5-7B-Instruct": 7_615_616_512,
    "mistralai/Mistral-7B-Instruct-v0.3": 7_248_023_552,
    "google/gemma-2-2b-it": 2_614_341_888,
    "microsoft/Phi-3-mini-4k-instruct": 3_821_079_552,
    "HuggingFaceTB/SmolLM2-135M-Instruct": 134_515_008,
    "HuggingFaceTB/SmolLM2-360M-Instruct": 361_821_120,
    "HuggingFaceTB/SmolLM2-1.7B-Instruct": 1_711_376_384,
    "TinyLlama/TinyLlama-1.1B-Chat-v1.0": 1_100_048_384,
}

UPSTREAM_RUNTIME_MODELS = {
    "hf://meta-llama/Llama-3.2-1B-Instruct",
    "hf://meta-llama/Llama-3.2-3B-Instruct",
    "hf://Qwen/Qwen2.5-1.5B-Instruct",
}


@pytest.mark.parametrize("repo_id", sorted(PUBLISHED_PARAMETERS))
def test_parameter_count_matches_published(repo_id: str) -> None:
    spec = get_model(repo_id)
    assert spec is not None
    published = PUBLISHED_PARAMETERS[repo_id]
    assert abs(count_parameters(spec.arch) - published) / published < 0.005
    assert spec.parameters == count_parameters(spec.arch)


def test_catalog_lists_every_published_model() -> None:
    assert {spec.id for spec in list_models()} == set(PUBLISHED_PARAMETERS)


def test_tied_embeddings_counted_once() -> None:
    spec = resolve_model("llama 3.2 1b").spec
    untied = spec.arch.__class__(**{**spec.arch.to_dict(), "tie_word_embeddings": False})
    assert count_parameters(untied) - count_parameters(spec.arch) == 128256 * 2048


def test_qwen_attention_biases_counted() -> None:
    arch = resolve_model("qwen2.5 0.5b").spec.arch
    without = arch.__class__(**{**arch.to_dict(), "qkv_bias": False})
    assert count_parameters(arch) - count_parameters(without) == 24 * (896 + 2 * 128)


@pytest.mark.parametrize(
    ("repo_id", "gated"),
    [
        ("meta-llama/Llama-3.2-1B-Instruct", True),
        ("meta-llama/Llama-3.1-70B-Instruct", True),
        ("google/gemma-2-2b-it", True),
        ("mistralai/Mistral-7B-Instruct-v0.3", True),
        ("Qwen/Qwen2.5-1.5B-Instruct", False),
        ("microsoft/Phi-3-mini-4k-instruct", False),
        ("HuggingFaceTB/SmolLM2-360M-Instruct", False),
        ("TinyLlama/TinyLlama-1.1B-Chat-v1.0", False),
    ],
)
def test_gated_flag(repo_id: str, gated: bool) -> None:
    spec = get_model(repo_id)
    assert spec is not None
    assert spec.gated is gated


def test_entry_fields() -> None:
    spec = resolve_model("llama 3.2 1b").spec
    assert spec.id == "meta-llama/Llama-3.2-1B-Instruct"
    assert "meta-llama/Llama-3.2-1B" in spec.variants
    assert spec.family == "llama-3.2"
    assert spec.size == "1B"
    assert spec.torchtune_builder == "llama3_2_1b"
    assert resolve_model("tinyllama").spec.torchtune_builder is None
    assert spec.to_dict()["architecture"]["hidden_size"] == 2048


@pytest.mark.parametrize(
    ("text", "expected_id"),
    [
        ("Llama-3.2-3B-Instruct", "meta-llama/Llama-3.2-3B-Instruct"),
        ("meta-llama/Llama-3.2-1B", "meta-llama/Llama-3.2-1B"),
        ("META-LLAMA/llama-3.2-1b-instruct", "meta-llama/Llama-3.2-1B-Instruct"),
        ("hf://meta-llama/Llama-3.2-1B-Instruct", "meta-llama/Llama-3.2-1B-Instruct"),
        ("llama3.2 1b", "meta-llama/Llama-3.2-1B-Instruct"),
        ("llama-3.2-1b", "meta-llama/Llama-3.2-1B-Instruct"),
        ("Llama 3.2 3B", "meta-llama/Llama-3.2-3B-Instruct"),
        ("llama_3.1_8b", "meta-llama/Llama-3.1-8B-Instruct"),
        ("meta-llama/Meta-Llama-3.1-8B", "meta-llama/Meta-Llama-3.1-8B"),
        ("llama 3.2 1b base", "meta-llama/Llama-3.2-1B"),
        ("qwen2.5 1.5b", "Qwen/Qwen2.5-1.5B-Instruct"),
        ("qwen 2.5 1.5b", "Qwen/Qwen2.5-1.5B-Instruct"),
        ("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct"),
        ("qwen2.5-0.5b", "Qwen/Qwen2.5-0.5B-Instruct"),
        ("mistral 7b", "mistralai/Mistral-7B-Instruct-v0.3"),
        ("Mistral-7B-Instruct-v0.3", "mistralai/Mistral-7B-Instruct-v0.3"),
        ("gemma 2 2b", "google/gemma-2-2b-it"),
        ("gemma2-2b", "google/gemma-2-2b-it"),
        ("phi-3 mini", "microsoft/Phi-3-mini-4k-instruct"),
        ("phi3", "microsoft/Phi-3-mini-4k-instruct"),
        ("smollm2 360m", "HuggingFaceTB/SmolLM2-360M-Instruct"),
        ("SmolLM2-1.7B", "HuggingFaceTB/SmolLM2-1.7B-Instruct"),
        ("tinyllama", "TinyLlama/TinyLlama-1.1B-Chat-v1.0"),
        ("tinyllama-1.1b", "TinyLlama/TinyLlama-1.1B-Chat-v1.0"),
    ],
)
def test_resolve_spoken_and_repo_names(text: str, expected_id: str) -> None:
    resolved = resolve_model(text)
    assert resolved.id == expected_id
    assert resolved.note is None


def test_variants_share_one_entry() -> None:
    base = resolve_model("meta-llama/Llama-3.2-1B").spec
    instruct = resolve_model("llama 3.2 1b").spec
    assert base is instruct


def test_bare_family_prefers_size_with_runtime() -> None:
    resolved = resolve_model("qwen2.5", {"hf://Qwen/Qwen2.5-1.5B-Instruct"})
    assert resolved.id == "Qwen/Qwen2.5-1.5B-Instruct"
    assert resolved.note == "'qwen2.5' has several sizes; chose Qwen2.5-1.5B-Instruct, the smallest with a runtime"


def test_bare_family_without_runtimes_takes_smallest() -> None:
    resolved = resolve_model("llama 3.2")
    assert resolved.id == "meta-llama/Llama-3.2-1B-Instruct"
    assert resolved.note is not None
    assert "smallest size" in resolved.note


def test_bare_family_runtime_serving_base_variant() -> None:
    resolved = resolve_model("llama 3.2", {"meta-llama/Llama-3.2-3B"})
    assert resolved.spec.size == "3B"
    assert resolved.note is not None
    assert "with a runtime" in resolved.note


def test_family_with_no_served_size_says_so() -> None:
    resolved = resolve_model("llama 3.1", UPSTREAM_RUNTIME_MODELS)
    assert resolved.id == "meta-llama/Llama-3.1-8B-Instruct"
    assert resolved.note is not None
    assert "no runtime serves" in resolved.note


def test_bare_brand_picks_newest_family_with_runtime() -> None:
    resolved = resolve_model("llama", UPSTREAM_RUNTIME_MODELS)
    assert resolved.id == "meta-llama/Llama-3.2-1B-Instruct"
    assert resolved.note is not None
    assert "newest family with a runtime" in resolved.note


def test_bare_brand_without_runtime_is_ambiguous() -> None:
    with pytest.raises(UsageError) as caught:
        resolve_model("llama")
    assert "ambiguous" in caught.value.message
    assert caught.value.details["suggestions"] == [
        "meta-llama/Llama-3.2-1B-Instruct",
        "meta-llama/Llama-3.1-8B-Instruct",
    ]


def test_bare_brand_with_one_family_resolves_with_note() -> None:
    resolved = resolve_model("gemma")
    assert resolved.id == "google/gemma-2-2b-it"
    assert resolved.note is not None
    assert "names no version" in resolved.note


@pytest.mark.parametrize("text", ["llama 9", "gpt-5", "llama3 8b", "unsloth/Llama-3.2-1B-Instruct", "qwen3 8b"])
def test_unknown_names_raise(text: str) -> None:
    with pytest.raises(UnknownNameError) as caught:
        resolve_model(text)
    assert caught.value.value == text
    assert len(caught.value.suggestions) <= 3
    assert caught.value.hint is not None
    assert "--model-config PATH" in caught.value.hint


def test_unknown_name_suggests_close_entries() -> None:
    with pytest.raises(UnknownNameError) as caught:
        resolve_model("lama 3.2 1b")
    assert caught.value.suggestions[0] == "meta-llama/Llama-3.2-1B-Instruct"


def test_empty_name_rejected() -> None:
    with pytest.raises(UsageError, match="empty"):
        resolve_model("  ")


@pytest.mark.parametrize(
    ("fixture", "repo_id"),
    [
        ("llama-3.2-1b.config.json", "meta-llama/Llama-3.2-1B-Instruct"),
        ("qwen2.5-0.5b.config.json", "Qwen/Qwen2.5-0.5B-Instruct"),
        ("gemma-2-2b.config.json", "google/gemma-2-2b-it"),
        ("phi-3-mini-4k.config.json", "microsoft/Phi-3-mini-4k-instruct"),
        ("mistral-7b-v0.3.config.json", "mistralai/Mistral-7B-Instruct-v0.3"),
    ],
)
def test_hf_config_matches_catalog(fixture: str, repo_id: str) -> None:
    arch = arch_from_hf_config(DATA / fixture)
    spec = get_model(repo_id)
    assert spec is not None
    assert count_parameters(arch) == PUBLISHED_PARAMETERS[repo_id]
    assert arch == spec.arch


def test_hf_config_gemma2_defaults() -> None:
    arch = arch_from_hf_config(DATA / "gemma-2-2b.config.json")
    assert arch.tie_word_embeddings is True  # absent from the file; Gemma2Config's default
    assert arch.norms_per_layer == 4
    assert arch.attn_logit_softcapping == 50.0


def test_hf_config_from_dict_defaults_kv_heads() -> None:
    config = json.loads((DATA / "llama-3.2-1b.config.json").read_text())
    del config["num_key_value_heads"], config["head_dim"]
    arch = arch_from_hf_config(config)
    assert arch.num_key_value_heads == 32
    assert arch.attention_head_dim == 64


def test_hf_config_missing_field_names_field_and_file() -> None:
    path = DATA / "missing-hidden-size.config.json"
    with pytest.raises(UsageError) as caught:
        arch_from_hf_config(path)
    assert "hidden_size" in caught.value.message
    assert str(path) in caught.value.message


def test_hf_config_rejects_mixture_of_experts() -> None:
    with pytest.raises(UsageError, match="mixture-of-experts"):
        arch_from_hf_config(DATA / "mixture-of-experts.config.json")


def test_hf_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        arch_from_hf_config(tmp_path / "config.json")


def test_hf_config_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        arch_from_hf_config(path)


def test_hf_config_rejects_bad_values() -> None:
    config = json.loads((DATA / "llama-3.2-1b.config.json").read_text())
    config["num_key_value_heads"] = 5
    with pytest.raises(UsageError, match="multiple of num_key_value_heads"):
        arch_from_hf_config(config)
    config["num_key_value_heads"] = 8
    config["hidden_size"] = "2048"
    with pytest.raises(UsageError, match="'hidden_size' must be a positive integer"):
        arch_from_hf_config(config)
