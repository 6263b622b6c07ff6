"""Model names as people write them, resolved to catalog entries and Hugging Face ids.

`resolve_model` accepts repo ids (`meta-llama/Llama-3.2-1B`, `hf://...`), repo names
without the organisation (`Llama-3.2-3B-Instruct`) and spoken forms (`llama 3.2 1b`,
`qwen2.5 1.5b`, `gemma2-2b`, `phi-3 mini`, `tinyllama`), in any case and with or
without spaces, dashes, dots or underscores between family, version and size.

Names that leave a choice open are resolved as follows, and `ResolvedModel.note`
describes the choice:
- a family without a size (`llama 3.2`, `qwen2.5`) gets its smallest size that a
  runtime serves, or its smallest size when no runtime serves any;
- a brand without a version (`llama`, `qwen`, `gemma`) gets its only family in the
  catalog. Where there are several (Llama 3.2 and 3.1), it gets the newest family that
  a runtime serves, or raises `UsageError` listing the families when none is served.
Anything else that matches no catalog name raises `UnknownNameError`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from kfctl_ai.core.architecture import Architecture, arch_from_hf_config, count_parameters
from kfctl_ai.core.errors import UnknownNameError, UsageError
from kfctl_ai.core.model_catalog import CATALOG, FAMILY_LABELS, ModelSpec

__all__ = [
    "Architecture",
    "ModelSpec",
    "ResolvedModel",
    "arch_from_hf_config",
    "count_parameters",
    "get_model",
    "list_models",
    "resolve_model",
]

OUTSIDE_CATALOG_HINT = (
    "for a model outside the catalog, pass its Hugging Face config.json with --model-config PATH"
)
_SEPARATORS = re.compile(r"[\s._-]+")
_VARIANT_SUFFIXES = ("instruct", "it", "chat")
# Brand names without a version, mapped to their families, newest first.
_BRANDS = {
    "llama": ("llama-3.2", "llama-3.1"),
    "llama3": ("llama-3.2", "llama-3.1"),
    "metallama": ("llama-3.2", "llama-3.1"),
    "qwen": ("qwen-2.5",),
    "gemma": ("gemma-2",),
    "phi": ("phi-3",),
    "smollm": ("smollm-2",),
}


@dataclass(frozen=True)
class ResolvedModel:
    """A resolved model name.

    `id` is the repo id as typed when the user typed a known one (base or instruct), else
    the canonical id. `note` is a sentence when kfai chose a size or family that the name
    left open, else None.
    """

    id: str
    spec: ModelSpec
    note: str | None = None


def _compact(text: str) -> str:
    return _SEPARATORS.sub("", text.lower())


def _size_keys(spec: ModelSpec) -> set[str]:
    """Spoken forms that name one size: `llama321b`, `qwen2515b`, `phi3mini`."""
    keys = {_compact(spec.family) + _compact(spec.size), _compact(spec.name)}
    keys.update(_compact(variant.split("/", 1)[1]) for variant in spec.variants)
    keys.update(_compact(alias) for alias in spec.aliases)
    return keys


def _build_indexes() -> tuple[dict[str, ModelSpec], dict[str, tuple[ModelSpec, str]], dict[str, list[ModelSpec]]]:
    by_repo_id: dict[str, ModelSpec] = {}
    by_key: dict[str, tuple[ModelSpec, str]] = {}
    by_family: dict[str, list[ModelSpec]] = {}
    for spec in CATALOG:
        for repo_id in spec.ids:
            by_repo_id[repo_id.lower()] = spec
        for key in _size_keys(spec):
            by_key.setdefault(key, (spec, spec.id))
            for suffix in _VARIANT_SUFFIXES:
                by_key.setdefault(key + suffix, (spec, spec.id))
            if spec.base_id:
                by_key.setdefault(key + "base", (spec, spec.base_id))
        by_family.setdefault(_compact(spec.family), []).append(spec)
    for specs in by_family.values():
        specs.sort(key=lambda s: s.parameters)
    return by_repo_id, by_key, by_family


_BY_REPO_ID, _BY_KEY, _BY_FAMILY = _build_indexes()


def list_models() -> list[ModelSpec]:
    """Return the catalog, in catalog order (family, then size)."""
    return list(CATALOG)


def get_model(repo_id: str) -> ModelSpec | None:
    """Return the entry that owns `repo_id` (any known variant, any case), or None."""
    return _BY_REPO_ID.get(_strip_scheme(repo_id).lower())


def resolve_model(text: str, runtime_model_ids: set[str] | None = None) -> ResolvedModel:
    """Resolve a model name to a catalog entry and a Hugging Face repo id.

    `runtime_model_ids` contains the models that the cluster's runtimes serve (repo ids,
    with or without `hf://`), which decide the size that a bare family name gets. Raises
    `UnknownNameError` with up to three close names when nothing matches, and
    `UsageError` for a brand name that is ambiguous with no runtime to decide.
    """
    typed = text.strip()
    if not typed:
        raise UsageError("model name is empty", hint="name a model, for example 'llama 3.2 1b'")
    name = _strip_scheme(typed)
    served = {_strip_scheme(i).lower() for i in runtime_model_ids or ()}

    if "/" in name:
        spec = _BY_REPO_ID.get(name.lower())
        if spec is None:
            raise UnknownNameError("model", typed, _suggest(name.split("/", 1)[1]), OUTSIDE_CATALOG_HINT)
        exact = next(i for i in spec.ids if i.lower() == name.lower())
        return ResolvedModel(exact, spec)

    key = _compact(name)
    if key in _BY_KEY:
        spec, repo_id = _BY_KEY[key]
        return ResolvedModel(repo_id, spec)
    if key in _BY_FAMILY:
        return _resolve_family(typed, _BY_FAMILY[key], served, runtime_model_ids is not None)
    if key in _BRANDS:
        return _resolve_brand(typed, _BRANDS[key], served, runtime_model_ids is not None)
    raise UnknownNameError("model", typed, _suggest(name), OUTSIDE_CATALOG_HINT)


def _strip_scheme(text: str) -> str:
    return text[len("hf://"):] if text.lower().startswith("hf://") else text


def _has_runtime(spec: ModelSpec, served: set[str]) -> bool:
    return any(repo_id.lower() in served for repo_id in spec.ids)


def _pick_size(specs: list[ModelSpec], served: set[str], runtimes_known: bool) -> tuple[ModelSpec, str | None]:
    """Return the smallest size with a runtime (else the smallest) and why, or no reason if there is one size."""
    with_runtime = [s for s in specs if _has_runtime(s, served)]
    chosen = (with_runtime or specs)[0]
    if len(specs) == 1:
        return chosen, None
    if with_runtime:
        return chosen, "the smallest with a runtime"
    if runtimes_known:
        return chosen, "the smallest size; no runtime serves any of its sizes"
    return chosen, "the smallest size"


def _resolve_family(typed: str, specs: list[ModelSpec], served: set[str], runtimes_known: bool) -> ResolvedModel:
    chosen, reason = _pick_size(specs, served, runtimes_known)
    note = f"'{typed}' has several sizes; chose {chosen.name}, {reason}" if reason else None
    return ResolvedModel(chosen.id, chosen, note)


def _resolve_brand(typed: str, families: tuple[str, ...], served: set[str], runtimes_known: bool) -> ResolvedModel:
    members = {family: _BY_FAMILY[_compact(family)] for family in families}
    if len(families) == 1:
        family = families[0]
        chosen, reason = _pick_size(members[family], served, runtimes_known)
        note = f"'{typed}' names no version; chose {chosen.name} from {FAMILY_LABELS[family]}, the only {typed} family in kfai's catalog"
        if reason:
            note += f", and {chosen.size}, {reason}"
        return ResolvedModel(chosen.id, chosen, note)

    served_families = [f for f in families if any(_has_runtime(s, served) for s in members[f])]
    if not served_families:
        labels = [FAMILY_LABELS[f] for f in families]
        example = f"{families[0]} {members[families[0]][0].size.lower()}"
        raise UsageError(
            f"model '{typed}' is ambiguous: it names the families {', '.join(labels)}",
            hint=f"add the version and size, for example '{example}'",
            suggestions=[members[f][0].id for f in families],
        )
    family = served_families[0]
    chosen, reason = _pick_size(members[family], served, runtimes_known)
    note = f"'{typed}' names no version; chose {chosen.name}: {FAMILY_LABELS[family]} is the newest family with a runtime"
    if reason:
        note += f", and {chosen.size} {reason}"
    return ResolvedModel(chosen.id, chosen, note)


def _suggest(name: str) -> list[str]:
    """Return up to three catalog names close to `name`: repo ids, or family names."""
    key = _compact(name)
    candidates = list(_BY_KEY) + list(_BY_FAMILY)
    suggestions: list[str] = []
    for match in difflib.get_close_matches(key, candidates, n=12, cutoff=0.6):
        if match in _BY_KEY:
            label = _BY_KEY[match][1]
        else:
            label = _BY_FAMILY[match][0].family
        if label not in suggestions:
            suggestions.append(label)
        if len(suggestions) == 3:
            break
    return suggestions
