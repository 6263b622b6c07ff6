"""Recognition of model names in a sentence for the offline planner.

The planner does not resolve models. It turns a phrase such as "Llama 3.2 1B" or
"qwen 2.5 1.5b" into a lower-case key (`llama-3.2-1b`, `qwen2.5-1.5b`) that the model
catalog resolves later, and passes a full Hugging Face id through as typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kfctl_ai.ask.offline_text import REPO_ID_PATTERN, WORD_START, is_plausible_repo_id

_FAMILY = r"(?P<family>tiny[\s_-]?llama|llama|qwen|mistral|mixtral|gemma|phi|smol[\s_-]?lm)"
_SIZE_UNIT = r"(?:b|bn|m|billion|million)\b"
# A version is a number that is not a size ("3.2" in "llama 3.2 1b", not "7" in
# "mistral 7b") and not a count that follows the model ("llama 3 epochs").
_VERSION = (
    rf"(?P<version>v?\d+(?:\.\d+)?)(?![\d.]*\s?{_SIZE_UNIT})(?!x\d)"
    r"(?!\s*(?:x\s*)?(?:epochs?|gpus?|nodes?|times|passes|h100s?|a100s?)\b)"
)
_SIZE = rf"(?P<size>\d+x\d+b\b|\d+(?:\.\d+)?\s?{_SIZE_UNIT}|mini\b|small\b|medium\b)"
# "-Instruct", "-it" and similar name a variant of the same weights. Attached with a dash
# they mark a full Hugging Face repo name, which is passed through as typed.
_VARIANT = (
    r"(?P<variant>(?:(?:[-_]|\s+)(?:instruct|chat|base)\b|[-_](?:it|hf|v\d+(?:\.\d+)?)\b"
    r"|\s+v\d+(?:\.\d+)?\b)*)"
)
_MODEL_PHRASE = re.compile(
    rf"{WORD_START}{_FAMILY}(?:[\s_-]*{_VERSION})?(?:[\s_-]*{_SIZE})?{_VARIANT}(?![\w])(?!-\w)",
    re.IGNORECASE,
)
_WORD_SIZES = {"mini", "small", "medium"}
_MODEL_ORGS = {"meta-llama", "mistralai", "qwen", "tinyllama", "huggingfacetb", "unsloth", "google", "microsoft"}


@dataclass(frozen=True)
class ModelMention:
    """A model named in a sentence.

    `value` is a normalized key (`llama-3.2-1b`) or a Hugging Face id as typed.
    `has_size` is True when the phrase gave a parameter count.
    """

    value: str
    start: int
    end: int
    has_size: bool


def normalize_model_phrase(phrase: str) -> str | None:
    """Return the model key for a whole phrase such as "Llama 3.2 1B", or None if it names no model."""
    mentions = find_models(phrase.strip())
    if len(mentions) != 1:
        return None
    return mentions[0].value


def model_identity(value: str) -> str:
    """Reduce a model key or repo id to a form that equal models share.

    "meta-llama/Llama-3.2-3B-Instruct" and "llama 3.2 3b" both give "llama-3.2-3b", so a
    sentence that names one model twice plans it once.
    """
    name = value.rsplit("/", 1)[-1]
    bare = re.sub(r"(?:[-_](?:instruct|it|chat|hf|base))+$", "", name, flags=re.IGNORECASE)
    mentions = [m for m in find_models(bare) if m.start == 0 and m.end == len(bare)]
    return mentions[0].value if mentions else value.lower()


def find_models(text: str, dataset_ids: set[str] | None = None) -> list[ModelMention]:
    """Find model mentions in `text`, in order of appearance.

    Repo ids (`meta-llama/Llama-3.2-1B`, `hf://...`) count as models when their name
    starts with a known family or their organisation publishes models. The ids in
    `dataset_ids` (lower case, without hf://) never count.
    """
    dataset_ids = dataset_ids or set()
    mentions: list[ModelMention] = []
    id_spans: list[tuple[int, int]] = []

    for match in REPO_ID_PATTERN.finditer(text):
        org, name = match.group("org"), match.group("name")
        if not is_plausible_repo_id(org, name) or f"{org}/{name}".lower() in dataset_ids:
            continue
        if "/datasets/" in match.group("id").lower():
            continue
        if org.lower() in _MODEL_ORGS or re.match(_FAMILY, name, re.IGNORECASE):
            mentions.append(ModelMention(match.group("id"), match.start(), match.end(), has_size=True))
            id_spans.append((match.start(), match.end()))

    for match in _MODEL_PHRASE.finditer(text):
        if any(start < match.end() and match.start() < end for start, end in id_spans):
            continue
        mention = _mention_from_phrase(match, text)
        if mention is not None:
            mentions.append(mention)

    mentions.sort(key=lambda mention: mention.start)
    return mentions


# A size written before the family, as in "the 8B Llama 3.1".
_SIZE_BEFORE = re.compile(rf"{WORD_START}(\d+(?:\.\d+)?\s?[bm])[\s-]+(?:param(?:eter)?s?\s+)?$", re.IGNORECASE)


def _mention_from_phrase(match: re.Match[str], text: str) -> ModelMention | None:
    family = re.sub(r"[\s_-]", "", match.group("family").lower())
    version = (match.group("version") or "").lower().lstrip("v")
    size = re.sub(r"\s", "", (match.group("size") or "").lower())
    size = re.sub(r"(?:bn|billion)$", "b", size)
    size = re.sub(r"million$", "m", size)
    variant = match.group("variant") or ""

    if size in _WORD_SIZES and family != "phi":
        return None
    if family == "phi" and not (version or size):
        return None  # "phi" alone is an everyday word.
    if family == "tinyllama":
        version = ""  # TinyLlama has one release line, so "v1.1" does not select weights.
    start = match.start()
    size_before = None if size else _SIZE_BEFORE.search(text[:start])
    if size_before:
        size = re.sub(r"\s", "", size_before.group(1).lower())
        start = size_before.start()

    typed = match.group(0)
    if variant and re.search(r"[-_]", variant) and not re.search(r"\s", typed):
        # A repo name such as "Llama-3.2-3B-Instruct", typed without its organisation.
        return ModelMention(typed, start, match.end(), has_size=bool(size))

    if family in ("qwen", "smollm"):
        key = family + version
        parts = [key, size]
    else:
        parts = [family, version, size]
    return ModelMention("-".join(part for part in parts if part), start, match.end(), bool(size))
