"""Catalog of well-known instruction datasets and resolution of dataset names to URIs.

People name datasets loosely ("alpaca", "the dolly 15k dataset", "GSM8K"), so
`resolve_dataset` turns such a phrase into the `hf://` URI that a TrainJob's dataset
initializer downloads. Any well-formed Hugging Face id or `s3://` URI is accepted as
typed: kfai works offline here and cannot check that the id exists.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from kfctl_ai.core.errors import UnknownNameError, UsageError


@dataclass(frozen=True)
class DatasetEntry:
    """One catalog dataset: its short name, Hugging Face id and the names people use for it."""

    name: str
    hf_id: str
    aliases: tuple[str, ...]
    description: str

    @property
    def uri(self) -> str:
        return f"hf://{self.hf_id}"


@dataclass(frozen=True)
class ResolvedDataset:
    """A dataset reference resolved to a URI.

    `name` is the catalog name, or the last part of the id for one outside the catalog.
    `note` is None for catalog datasets and otherwise states that the URI was not checked.
    """

    uri: str
    name: str
    note: str | None = None


_CATALOG: tuple[DatasetEntry, ...] = (
    DatasetEntry("alpaca", "tatsu-lab/alpaca", ("stanford alpaca", "alpaca 52k"),
                 "52k instruction-following examples generated with text-davinci-003"),
    DatasetEntry("alpaca-cleaned", "yahma/alpaca-cleaned", ("cleaned alpaca",),
                 "Alpaca with hallucinated and malformed examples removed"),
    DatasetEntry("code-alpaca", "sahil2801/CodeAlpaca-20k", ("codealpaca", "code alpaca 20k"),
                 "20k code instruction examples in the Alpaca format"),
    DatasetEntry("dolly", "databricks/databricks-dolly-15k", ("dolly 15k", "databricks dolly"),
                 "15k human-written instruction examples from Databricks employees"),
    DatasetEntry("gsm8k", "openai/gsm8k", ("grade school math",),
                 "8.5k grade-school math word problems with worked solutions"),
    DatasetEntry("openassistant-guanaco", "timdettmers/openassistant-guanaco",
                 ("guanaco", "oasst guanaco"),
                 "the highest-rated OpenAssistant conversations, used to train Guanaco"),
    DatasetEntry("oasst1", "OpenAssistant/oasst1", ("oasst", "openassistant"),
                 "OpenAssistant conversation trees with human rankings"),
    DatasetEntry("samsum", "Samsung/samsum", ("samsum dialogue",),
                 "16k messenger-style dialogues with summaries"),
    DatasetEntry("squad", "rajpurkar/squad", ("squad v1", "squad 1.1"),
                 "100k reading-comprehension questions on Wikipedia articles"),
    DatasetEntry("squad-v2", "rajpurkar/squad_v2", ("squad 2", "squad 2.0"),
                 "SQuAD with 50k unanswerable questions added"),
    DatasetEntry("metamathqa", "meta-math/MetaMathQA", ("metamath", "meta math qa"),
                 "395k math question-answer pairs augmented from GSM8K and MATH"),
    DatasetEntry("ultrachat", "HuggingFaceH4/ultrachat_200k", ("ultrachat 200k",),
                 "200k filtered multi-turn chat dialogues"),
    DatasetEntry("orca-math", "microsoft/orca-math-word-problems-200k",
                 ("orca math word problems",),
                 "200k grade-school math problems with GPT-4 answers"),
    DatasetEntry("slimorca", "Open-Orca/SlimOrca", ("slim orca",),
                 "518k deduplicated and verified OpenOrca completions"),
    DatasetEntry("openorca", "Open-Orca/OpenOrca", ("open orca",),
                 "FLAN prompts answered by GPT-4 and GPT-3.5"),
    DatasetEntry("no-robots", "HuggingFaceH4/no_robots", ("norobots",),
                 "10k instructions and demonstrations written by human annotators"),
    DatasetEntry("open-platypus", "garage-bAInd/Open-Platypus", ("platypus",),
                 "25k STEM and logic questions used to train Platypus"),
    DatasetEntry("openhermes", "teknium/OpenHermes-2.5", ("openhermes 2.5", "open hermes"),
                 "1M synthetic instruction and chat examples"),
    DatasetEntry("python-code-instructions", "iamtarun/python_code_instructions_18k_alpaca",
                 ("python code instructions 18k", "python alpaca"),
                 "18k Python coding tasks in the Alpaca format"),
    DatasetEntry("cnn-dailymail", "abisee/cnn_dailymail", ("cnn dailymail", "cnn daily mail"),
                 "300k news articles with highlight summaries"),
)

_NOT_CHECKED_NOTE = "not checked: kfai cannot reach the Hugging Face Hub offline, so the id is used as typed"

# A Hugging Face repo id: an organisation or user, a slash, a repo name, then an
# optional path inside the repo (a config or a sub-folder).
_REPO_ID = re.compile(
    r"^(?P<org>[A-Za-z0-9][\w.-]{0,95})/(?P<repo>[A-Za-z0-9][\w.-]{0,95})(?P<path>(?:/[\w.-]+)*)/?$"
)
_S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?P<key>/[\w./=+-]*)?$")
_HUB_URL = re.compile(r"^https?://(?:www\.)?huggingface\.co/datasets/(?P<rest>.+)$", re.IGNORECASE)
_FILLER_PREFIX = re.compile(r"^(?:the|a|an|my)\s+")
_FILLER_SUFFIX = re.compile(r"\s+(?:dataset|data\s*set|data|corpus)$")


def list_datasets() -> list[DatasetEntry]:
    """Return the catalog, in catalog order."""
    return list(_CATALOG)


def alias_key(text: str) -> str:
    """Reduce a dataset phrase to the form aliases are compared in.

    Lower case, with articles, a trailing "dataset" and all spaces, dashes and
    underscores removed, so "the Dolly-15k dataset" and "dolly 15k" compare equal.
    """
    phrase = text.strip().strip("\"'`").lower()
    phrase = _FILLER_PREFIX.sub("", phrase)
    phrase = _FILLER_SUFFIX.sub("", phrase)
    return re.sub(r"[\s_-]+", "", phrase)


def _build_alias_index() -> dict[str, DatasetEntry]:
    index: dict[str, DatasetEntry] = {}
    for entry in _CATALOG:
        repo_name = entry.hf_id.split("/", 1)[1]
        for phrase in (entry.name, repo_name, *entry.aliases):
            index.setdefault(alias_key(phrase), entry)
    return index


_ALIAS_INDEX = _build_alias_index()
_HF_ID_INDEX = {entry.hf_id.lower(): entry for entry in _CATALOG}


def find_catalog_entry(text: str) -> DatasetEntry | None:
    """Return the catalog entry whose name, alias or Hugging Face id matches `text`, if any."""
    stripped = text.strip()
    if stripped.lower().startswith("hf://"):
        stripped = stripped[len("hf://"):]
    by_id = _HF_ID_INDEX.get(stripped.strip("/").lower())
    if by_id is not None:
        return by_id
    return _ALIAS_INDEX.get(alias_key(stripped))


def resolve_dataset(text: str) -> ResolvedDataset:
    """Resolve a dataset phrase, a Hugging Face id or an S3 URI to a dataset URI.

    Accepts catalog names and aliases in any case and spacing ("Alpaca", "the dolly 15k
    dataset"), `org/name`, `hf://org/name[/path]`, a huggingface.co dataset URL and
    `s3://bucket[/key]`. Raises UsageError for a malformed URI, and UnknownNameError with
    close catalog names for a bare name that matches no catalog entry.
    """
    value = text.strip().strip("\"'`").rstrip(".,;:!?")
    if not value:
        raise UsageError("missing dataset name", hint="give a dataset such as 'alpaca' or 'hf://org/name'")

    url = _HUB_URL.match(value)
    if url:
        value = "hf://" + url.group("rest").strip("/")

    lowered = value.lower()
    if lowered.startswith("s3://"):
        return _resolve_s3(value)
    if lowered.startswith("hf://"):
        return _resolve_repo_id(value[len("hf://"):], original=text)
    if "/" in value:
        return _resolve_repo_id(value, original=text)

    entry = _ALIAS_INDEX.get(alias_key(value))
    if entry is not None:
        return ResolvedDataset(uri=entry.uri, name=entry.name)
    raise UnknownNameError(
        "dataset",
        value,
        suggest_datasets(value),
        hint=(
            "give the full Hugging Face id as hf://ORG/NAME (for example hf://tatsu-lab/alpaca); "
            f"known names: {', '.join(entry.name for entry in _CATALOG)}"
        ),
    )


def suggest_datasets(text: str, limit: int = 3) -> list[str]:
    """Return up to `limit` catalog names close to `text`, closest first."""
    key = alias_key(text)
    if not key:
        return []
    suggestions: list[str] = []
    for alias in difflib.get_close_matches(key, list(_ALIAS_INDEX), n=limit * 2, cutoff=0.6):
        name = _ALIAS_INDEX[alias].name
        if name not in suggestions:
            suggestions.append(name)
    # A fragment such as "orca" is too short for difflib but names a family of entries.
    if len(key) >= 4:
        for alias, entry in _ALIAS_INDEX.items():
            if key in alias and entry.name not in suggestions:
                suggestions.append(entry.name)
    return suggestions[:limit]


def _resolve_repo_id(repo_path: str, original: str) -> ResolvedDataset:
    match = _REPO_ID.match(repo_path)
    if match is None:
        raise UsageError(
            f"invalid Hugging Face dataset id '{original.strip()}'",
            hint="write it as ORG/NAME or hf://ORG/NAME, for example hf://tatsu-lab/alpaca",
        )
    hf_id = f"{match.group('org')}/{match.group('repo')}"
    path = match.group("path")
    entry = _HF_ID_INDEX.get(hf_id.lower())
    if entry is not None:
        return ResolvedDataset(uri=entry.uri + path, name=entry.name)
    return ResolvedDataset(uri=f"hf://{hf_id}{path}", name=match.group("repo"), note=_NOT_CHECKED_NOTE)


def _resolve_s3(uri: str) -> ResolvedDataset:
    match = _S3_URI.match(uri)
    if match is None:
        raise UsageError(
            f"invalid S3 URI '{uri}'",
            hint="write it as s3://BUCKET/KEY with a lower-case bucket name",
        )
    key = (match.group("key") or "").strip("/")
    name = key.rsplit("/", 1)[-1] if key else match.group("bucket")
    return ResolvedDataset(uri=uri, name=name, note="not checked: kfai does not read S3 before the job runs")
