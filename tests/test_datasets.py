"""Tests for the dataset catalog and dataset name resolution."""

from __future__ import annotations

import pytest

from kfctl_ai.core.datasets import (
    ResolvedDataset,
    alias_key,
    find_catalog_entry,
    list_datasets,
    resolve_dataset,
    suggest_datasets,
)
from kfctl_ai.core.errors import ExitCode, UnknownNameError, UsageError


@pytest.mark.parametrize(
    ("text", "uri"),
    [
        ("alpaca", "hf://tatsu-lab/alpaca"),
        ("Alpaca", "hf://tatsu-lab/alpaca"),
        ("the alpaca dataset", "hf://tatsu-lab/alpaca"),
        ("tatsu-lab/alpaca", "hf://tatsu-lab/alpaca"),
        ("hf://tatsu-lab/alpaca", "hf://tatsu-lab/alpaca"),
        ("alpaca-cleaned", "hf://yahma/alpaca-cleaned"),
        ("alpaca cleaned", "hf://yahma/alpaca-cleaned"),
        ("dolly", "hf://databricks/databricks-dolly-15k"),
        ("dolly 15k", "hf://databricks/databricks-dolly-15k"),
        ("Databricks-Dolly-15k", "hf://databricks/databricks-dolly-15k"),
        ("GSM8K", "hf://openai/gsm8k"),
        ("gsm 8k", "hf://openai/gsm8k"),
        ("openassistant-guanaco", "hf://timdettmers/openassistant-guanaco"),
        ("samsum", "hf://Samsung/samsum"),
        ("squad", "hf://rajpurkar/squad"),
        ("MetaMathQA", "hf://meta-math/MetaMathQA"),
        ("ultrachat", "hf://HuggingFaceH4/ultrachat_200k"),
        ("orca-math", "hf://microsoft/orca-math-word-problems-200k"),
        ("code_alpaca", "hf://sahil2801/CodeAlpaca-20k"),
        ("oasst1", "hf://OpenAssistant/oasst1"),
        ("no_robots", "hf://HuggingFaceH4/no_robots"),
        ("  'alpaca'. ", "hf://tatsu-lab/alpaca"),
    ],
)
def test_resolve_catalog_names(text: str, uri: str) -> None:
    resolved = resolve_dataset(text)
    assert resolved.uri == uri
    assert resolved.note is None


def test_resolve_returns_catalog_name() -> None:
    assert resolve_dataset("dolly 15k") == ResolvedDataset("hf://databricks/databricks-dolly-15k", "dolly")


def test_resolve_catalog_id_any_case() -> None:
    assert resolve_dataset("TATSU-LAB/Alpaca").uri == "hf://tatsu-lab/alpaca"


def test_resolve_catalog_id_keeps_path() -> None:
    assert resolve_dataset("hf://openai/gsm8k/main").uri == "hf://openai/gsm8k/main"


@pytest.mark.parametrize(
    ("text", "uri"),
    [
        ("my-org/my-data", "hf://my-org/my-data"),
        ("hf://my-org/my-data", "hf://my-org/my-data"),
        ("hf://my-org/my-data/train", "hf://my-org/my-data/train"),
        ("https://huggingface.co/datasets/my-org/my-data", "hf://my-org/my-data"),
    ],
)
def test_resolve_unknown_repo_id_as_typed(text: str, uri: str) -> None:
    resolved = resolve_dataset(text)
    assert resolved.uri == uri
    assert resolved.name == "my-data"
    assert resolved.note is not None and "not checked" in resolved.note


def test_resolve_s3_uri() -> None:
    resolved = resolve_dataset("s3://ml-data/instructions/train.jsonl")
    assert resolved.uri == "s3://ml-data/instructions/train.jsonl"
    assert resolved.name == "train.jsonl"
    assert "not checked" in resolved.note


@pytest.mark.parametrize("text", ["s3://Bad_Bucket/x", "hf://only-org", "hf://org/name with space", "org//name"])
def test_resolve_malformed_uri_rejected(text: str) -> None:
    with pytest.raises(UsageError) as raised:
        resolve_dataset(text)
    assert raised.value.exit_code == ExitCode.USAGE
    assert raised.value.hint


def test_resolve_empty_rejected() -> None:
    with pytest.raises(UsageError):
        resolve_dataset("  ")


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(UnknownNameError) as raised:
        resolve_dataset("alpca")
    assert raised.value.value == "alpca"
    assert raised.value.suggestions[0] == "alpaca"
    assert "did you mean" in raised.value.message
    assert "hf://" in raised.value.hint


def test_unknown_fragment_suggests_family() -> None:
    assert set(suggest_datasets("orca")) >= {"orca-math", "slimorca"}


def test_unknown_name_without_matches() -> None:
    with pytest.raises(UnknownNameError) as raised:
        resolve_dataset("zzzz")
    assert raised.value.suggestions == []
    assert "hf://ORG/NAME" in raised.value.hint


def test_list_datasets_entries_valid() -> None:
    entries = list_datasets()
    names = [entry.name for entry in entries]
    assert len(names) == len(set(names))
    for entry in entries:
        assert entry.uri == f"hf://{entry.hf_id}"
        assert entry.hf_id.count("/") == 1
        assert entry.description


def test_aliases_unambiguous() -> None:
    owners: dict[str, str] = {}
    for entry in list_datasets():
        for phrase in (entry.name, entry.hf_id.split("/")[1], *entry.aliases):
            key = alias_key(phrase)
            assert owners.setdefault(key, entry.name) == entry.name, phrase


def test_every_catalog_entry_resolves_by_name() -> None:
    for entry in list_datasets():
        assert resolve_dataset(entry.name).uri == entry.uri
        assert find_catalog_entry(entry.uri) == entry
