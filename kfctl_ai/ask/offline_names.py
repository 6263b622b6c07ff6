"""Extraction of names from one clause, for the offline planner.

Covers datasets, namespaces, runtimes, job names, TrainJob steps, status filters,
frameworks, secrets and script paths. Each function takes lower-case clause text
(`find_script` and `find_datasets` also take the text as typed) and returns the value it
found, or None. Functions whose match callers mask afterwards also return its
(start, end) span.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kfctl_ai.ask.offline_options import GPU_TYPES
from kfctl_ai.ask.offline_text import (
    K8S_NAME,
    REPO_ID_PATTERN,
    RUNTIME_NAME,
    S3_URI_PATTERN,
    WORD_END,
    WORD_START,
    is_plausible_repo_id,
)
from kfctl_ai.core.datasets import find_catalog_entry, list_datasets

Span = tuple[int, int]

# Words that look like names in a sentence but never name a job, namespace, runtime or dataset.
STOP_WORDS = frozenset(
    """
    a an the my our your his her their this that these those it its them me us you i we
    job jobs trainjob trainjobs run runs logs log status please now named called id name
    for of on at to from with in into and or is was be been has have had are do does did
    all every each any some failed failing running completed complete finished pending created
    succeeded latest last previous recent new old current same done there here training
    fine-tune finetune output progress events details info namespace ns node nodes step steps
    yet still so far right first second one gpu gpus cluster kubernetes k8s laptop machine own
    local locally model models dataset datasets data runtime runtimes using use via then
    also too again more epochs epoch batch size sequence length seq len lora qlora full method
    what which how why when where who anything everything something nothing whole entire
    it's that's instead just only like as if whether than but by up down out over about
    finish finishes ends end completes starts started fails fail succeeds should would could
    can will may might must need needs want wants list summary history today yesterday tonight
    except excluding besides apart other others than keep keeping leave leaving spare sparing
    """.split()
)


@dataclass(frozen=True)
class DatasetMention:
    """A dataset named in a clause: the phrase as typed and the URI it resolves to.

    `uri` equals `typed` for a word outside the catalog, which validation downstream
    rejects with close matches.
    """

    typed: str
    uri: str
    start: int
    end: int


def _phrase_pattern(phrase: str) -> str:
    chunks = re.findall(r"[a-z]+|\d+(?:\.\d+)?[a-z]*", phrase.lower())
    return r"[\s_-]*".join(re.escape(chunk) for chunk in chunks)


def _build_alias_pattern() -> re.Pattern[str]:
    phrases = set()
    for entry in list_datasets():
        phrases.update((entry.name, entry.hf_id.split("/", 1)[1], *entry.aliases))
    alternatives = sorted({_phrase_pattern(phrase) for phrase in phrases}, key=len, reverse=True)
    return re.compile(rf"{WORD_START}(?:{'|'.join(alternatives)}){WORD_END}")


_DATASET_ALIAS = _build_alias_pattern()
_DATASET_WORD = r"[a-z][\w.-]*[a-z0-9]"
_UNKNOWN_DATASET_PATTERNS = (
    re.compile(rf"--dataset[\s=]+({_DATASET_WORD})"),
    re.compile(rf"\bdata\s*set\s*[=:]\s*({_DATASET_WORD})"),
    re.compile(rf"\b(?:data\s*set|data)\s+(?:called|named)\s+({_DATASET_WORD})"),
    re.compile(rf"\b(?:on|with|using|from)\s+(?:the\s+|my\s+|our\s+)?({_DATASET_WORD})\s+(?:data\s*set|data|corpus)\b"),
    re.compile(rf"\b(?:on|over)\s+(?:the\s+)?({_DATASET_WORD}){WORD_END}"),
)


CATALOG_IDS = frozenset(entry.hf_id.lower() for entry in list_datasets())


def find_datasets(raw: str, low: str) -> list[DatasetMention]:
    """Find datasets in a clause: repo ids, S3 URIs and catalog names, in order.

    Every plausible repo id is returned, so callers drop the ones that name models.
    """
    mentions: list[DatasetMention] = []
    for match in S3_URI_PATTERN.finditer(raw):
        mentions.append(DatasetMention(match.group(0), match.group(0), match.start(), match.end()))
    for match in REPO_ID_PATTERN.finditer(raw):
        if not is_plausible_repo_id(match.group("org"), match.group("name")):
            continue
        typed = match.group("id")
        entry = find_catalog_entry(f"{match.group('org')}/{match.group('name')}")
        bare = re.sub(r"^(?:hf://|https?://[^/]+/(?:datasets/)?)", "", typed, flags=re.IGNORECASE)
        if entry is not None:
            uri = entry.uri + bare[len(entry.hf_id):]
        else:
            uri = "hf://" + bare
        mentions.append(DatasetMention(typed, uri, match.start(), match.end()))
    for match in _DATASET_ALIAS.finditer(low):
        if any(m.start <= match.start() < m.end for m in mentions):
            continue
        entry = find_catalog_entry(match.group(0))
        if entry is not None:
            mentions.append(DatasetMention(match.group(0), entry.uri, match.start(), match.end()))
    mentions.sort(key=lambda mention: mention.start)
    return mentions


def find_unknown_dataset(text: str) -> list[DatasetMention]:
    """Find a word in a dataset position ("on foo", "the foo dataset") that the catalog lacks.

    `text` is lower case with models, namespaces and other names masked. The word is
    returned as typed so that validation downstream rejects it with close matches.
    """
    for pattern in _UNKNOWN_DATASET_PATTERNS:
        match = pattern.search(text)
        if match and _is_name_word(match.group(1)) and match.group(1).rstrip("s") not in GPU_TYPES:
            word = match.group(1)
            return [DatasetMention(word, word, match.start(1), match.end(1))]
    return []


def _is_name_word(word: str) -> bool:
    return word not in STOP_WORDS and bool(re.search(r"[a-z]", word))


def looks_like_id(word: str) -> bool:
    """Tell a generated or hyphenated name ("abc123", "old-run-7") from an everyday word."""
    if not _could_name_job(word):
        return False
    if re.fullmatch(r"[a-z]{1,2}\d{1,2}", word):
        return False  # fp32, bf16, h100, k8s: usually hardware or number formats
    return bool(re.search(r"\d", word) or "-" in word)


def looks_like_short_job_name(word: str) -> bool:
    """Tell a short job name ("w1", "run2", "x") from option values, sizes and hardware.

    Callers use it only in a clause with a job verb ("delete w1", "logs of w1"), where
    such words are far more likely job names than anywhere else. A word without digits
    or dashes counts only when it has at most two letters.
    """
    if not _could_name_job(word):
        return False
    # NOTE: a longer everyday word after a verb ("kill the process") is not taken as a
    # job name, so "delete foo" plans nothing and needs "delete job foo".
    return bool(re.search(r"\d", word) or "-" in word or re.fullmatch(r"[a-z]{1,2}", word))


# Number formats of the letters-then-digits shape that name no job.
_NUMBER_FORMATS = frozenset({"fp4", "fp8", "fp16", "fp32", "fp64", "bf16", "int4", "int8", "nf4", "tf32"})


def _could_name_job(word: str) -> bool:
    if not _is_name_word(word) or word in GPU_TYPES or word.rstrip("s") in GPU_TYPES or word in _NUMBER_FORMATS:
        return False
    if re.fullmatch(
        r"(?:rank|r|bs|batch|seq|len|epochs?|lora|bf|fp|int|top|multi|single)-?\d+|adamw?-?8-?bits?", word
    ):
        return False  # rank-32, bs-8, fp-16, adamw8bit: option values, not names
    # Numbers, with a unit or an exponent ("7200", "2h", "1e3", "1h30m"), are values, not names.
    return not re.fullmatch(
        r"\d+(?:\.\d+)?(?:e-?\d+)?[a-z]{0,3}|(?:\d+[dhm])+\d+[hms]|\d+-(?:node|nodes|gpu|gpus|epoch|epochs|bit)", word
    )


_NAMESPACE = (
    re.compile(rf"(?:^|\s)(?:-n|--namespace)[\s=]+({K8S_NAME})\b"),
    re.compile(rf"\bnamespace\s*[=:]\s*({K8S_NAME})\b"),
    re.compile(rf"\b(?:in|into|to|under|within|from|for|on)\s+(?:the\s+)?(?:namespace|ns)\s+[\"'`]?({K8S_NAME})\b"),
    re.compile(rf"\b(?:in|into|to|under|within|from|for|on)\s+(?:the\s+)?[\"'`]?({K8S_NAME})[\"'`]?\s+(?:namespace|ns)\b"),
    re.compile(rf"\bnamespace\s+[\"'`]?({K8S_NAME})\b"),
)


def find_namespace(text: str) -> tuple[str, Span] | None:
    """Return the namespace a clause names ("in namespace team-a", "-n team-a") and its span."""
    return _first_name(_NAMESPACE, text)


def _first_name(patterns: tuple[re.Pattern[str], ...], text: str) -> tuple[str, Span] | None:
    for pattern in patterns:
        for match in pattern.finditer(text):
            if _is_name_word(match.group(1)):
                return match.group(1), match.span()
    return None


# Each pattern comes with a flag for whether the name must contain a digit or dash: "the training runtime"
# or "runtime should" are words around the runtime, not its name.
_RUNTIME = (
    (re.compile(rf"--runtime[\s=]+({RUNTIME_NAME})"), False),
    (re.compile(rf"\bruntime\s*[=:]\s*({RUNTIME_NAME})"), False),
    (re.compile(rf"\bruntime\s+(?:named|called)\s+[\"'`]?({RUNTIME_NAME})"), False),
    (re.compile(rf"\bruntime\s+[\"'`]?({RUNTIME_NAME})"), True),
    (re.compile(rf"{WORD_START}({RUNTIME_NAME})\s+(?:cluster\s+)?(?:training\s+)?runtime\b"), True),
)


def find_runtime_name(text: str) -> tuple[str, Span] | None:
    """Return a runtime name ("the torch-distributed runtime", "runtime X") and its span."""
    for pattern, needs_id_shape in _RUNTIME:
        for match in pattern.finditer(text):
            name = match.group(1)
            if needs_id_shape and not re.search(r"[\d-]", name):
                continue
            if _is_name_word(name):
                return name, match.span()
    return None


_JOB_NAME_OPTION = (
    re.compile(rf"--name[\s=]+({K8S_NAME})\b"),
    re.compile(rf"\b(?:job|run)\s+name\s*(?:=|:|of|to|is)?\s*[\"'`]?({K8S_NAME})\b"),
    re.compile(rf"\b(?:name|call)\s+(?:it|the\s+job|the\s+run|this\s+job|this\s+run)\s+(?:as\s+)?[\"'`]?({K8S_NAME})\b"),
    # "the dataset called my-data" names the dataset, not the new job.
    re.compile(rf"(?<!dataset )(?<!data )(?<!model )(?<!runtime )(?<!secret )\b(?:named|called)\s+[\"'`]?({K8S_NAME})\b"),
    re.compile(rf"\bas\s+(?:a\s+)?job\s+(?:named\s+|called\s+)?[\"'`]?({K8S_NAME})\b"),
)


def find_job_name_option(text: str) -> tuple[str, Span] | None:
    """Return the name a fine-tune request gives its new job ("call it llama-run-1") and its span."""
    return _first_name(_JOB_NAME_OPTION, text)


_SECRET = (
    re.compile(rf"--hf-token-secret[\s=]+({K8S_NAME})\b"),
    re.compile(rf"\btoken\s+(?:from|in|stored\s+in)\s+(?:the\s+)?(?:secret\s+)?[\"'`]?({K8S_NAME})\b"),
    re.compile(rf"\btoken[\s_-]*secret\s*(?:=|:|named|called)?\s*[\"'`]?({K8S_NAME})\b"),
    re.compile(rf"\bsecret\s+(?:named\s+|called\s+)?[\"'`]?({K8S_NAME})\b"),
    re.compile(rf"\b[\"'`]?({K8S_NAME})[\"'`]?\s+secret\b"),
)


def find_hf_token_secret(text: str) -> tuple[str, Span] | None:
    """Return the Kubernetes secret that contains the Hugging Face token, if the clause names one."""
    if not re.search(r"\b(?:token|secret)\b", text) or not re.search(r"\btoken\b|--hf-token", text):
        return None
    return _first_name(_SECRET, text)


_SCRIPT = re.compile(r"(?<![\w./-])((?:\.{1,2}/|~/|/)?(?:[\w.-]+/)*[\w.-]*\w\.py)\b")


def find_script(raw: str) -> tuple[str, Span] | None:
    """Return a Python script path typed in the clause ("train.py", "scripts/train.py") and its span."""
    match = _SCRIPT.search(raw)
    return (match.group(1), match.span()) if match else None


def wants_local_run(text: str) -> bool:
    return bool(re.search(
        r"\blocal(?:ly)?\b|--local\b|\bon\s+(?:my|this)\s+(?:laptop|machine|computer|workstation|mac|box)\b"
        r"|\bwithout\s+(?:the\s+)?(?:cluster|kubernetes)\b",
        text,
    ))


# --- logs and jobs ------------------------------------------------------------------

_ORDINAL_NODES = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "sixth": 5, "seventh": 6, "eighth": 7}
_STEP_PATTERNS = (
    (re.compile(r"--step[\s=]+([a-z0-9-]+)"), None),
    (re.compile(r"\bnode[\s-]?(\d+)\b"), "node-{}"),
    (re.compile(rf"\b(?:the\s+)?({'|'.join(_ORDINAL_NODES)})\s+(?:trainer\s+|training\s+|worker\s+)?node\b"), "ordinal"),
    (re.compile(r"\b(?:dataset|data)[\s_-]?init(?:iali[sz]er)?\b"), "dataset-initializer"),
    (re.compile(r"\bmodel[\s_-]?init(?:iali[sz]er)?\b"), "model-initializer"),
    (re.compile(r"\blauncher\b"), "launcher"),
    (re.compile(r"\bstep\s+([a-z][a-z0-9-]*)"), None),
)


def find_step(text: str) -> tuple[str, Span] | None:
    """Return the TrainJob step whose logs the clause requests ("node-1", "dataset initializer") and its span."""
    for pattern, template in _STEP_PATTERNS:
        match = pattern.search(text)
        if not match:
            continue
        if template is None:
            if not _is_name_word(match.group(1)):
                continue
            return match.group(1), match.span()
        if template == "ordinal":
            return f"node-{_ORDINAL_NODES[match.group(1)]}", match.span()
        if "{}" in template:
            return template.format(match.group(1)), match.span()
        return template, match.span()
    return None


def wants_follow(text: str, tail_given: bool = False) -> bool:
    """Tell whether a clause requests streamed logs ("follow", "-f", "tail the logs").

    With `tail_given` (the clause requests its last N lines) the word "tail" alone does not count.
    """
    for match in re.finditer(
        r"\b(?:follow|following|stream|streaming|tail|tailing|watch|watching|live)\b|(?<![\w-])-f\b|--follow"
        r"|\breal[\s-]?time\b|\bas\s+(?:it|they)\s+(?:comes?|happens?|runs?)\b",
        text,
    ):
        if not (tail_given and match.group(0).startswith("tail")):
            return True
    return False


_STATUS_WORDS = (
    ("Failed", r"\b(?:fail|fails|failed|failing|failures?|crashed|errored|broken|unsuccessful)\b"),
    ("Running", r"\b(?:running|active|in\s+progress|ongoing|in\s+flight)\b"),
    ("Complete", r"\b(?:completed|complete|finished|succeeded|successful|done)\b"),
    ("Created", r"\b(?:created|pending|queued|waiting|not\s+started)\b"),
)


def find_status(text: str) -> str | None:
    """Return the TrainJob status a job listing filters on ("failed jobs" -> "Failed")."""
    for status, pattern in _STATUS_WORDS:
        if re.search(pattern, text):
            return status
    return None


_FRAMEWORKS = (
    ("torchtune", r"torchtune"),
    ("torch", r"py-?torch|torch"),
    ("deepspeed", r"deepspeed|deep\s+speed"),
    ("mlx", r"mlx"),
    ("jax", r"jax"),
    ("xgboost", r"xgboost"),
)


def find_framework(text: str) -> str | None:
    """Return the runtime framework label a runtime listing filters on ("pytorch" -> "torch")."""
    for framework, pattern in _FRAMEWORKS:
        if re.search(rf"{WORD_START}(?:{pattern}){WORD_END}", text):
            return framework
    return None


_NAME = rf"{K8S_NAME}(?![\w/])(?!\.\w)"
_LIST_SEPARATOR = r"\s*(?:,|\band\b|&)\s*"
_NAME_LIST = rf"({_NAME}(?:{_LIST_SEPARATOR}(?:job\s+)?{_NAME})*)"
# Verbs after which a short job name ("w1", "x") counts as one.
_JOB_VERB = re.compile(
    r"\b(?:delete|remove|cancel|kill|stop|terminate|abort|describe|inspect|show|wait|logs?|status)\b"
)
# Each pattern comes with the test a name it captures must pass: "any" accepts any
# name word as the first name of a list, "verb" is for names right after a delete or
# describe verb, and "id" requires a name that looks generated or hyphenated.
# The name sits in a lookahead so that a rejected word ("logs of the for abc123") does
# not consume the text where the next match starts.
_JOB_NAME_PATTERNS = (
    (re.compile(rf"\b(?:train)?jobs?\s+(?=(?:named\s+|called\s+|with\s+(?:the\s+)?(?:name|id)\s+|id\s+|name\s+)?[:=]?\s*[\"'`]?{_NAME_LIST})"), "any"),
    (re.compile(rf"{WORD_START}(?=({_NAME})(?:'s)?\s+(?:train)?job\b)"), "id"),
    (re.compile(rf"\b(?:delete|remove|cancel|kill|stop|terminate|abort|describe|inspect)\s+(?=(?:the\s+)?(?:run\s+)?{_NAME_LIST})"), "verb"),
    (re.compile(rf"\b(?:for|of|on|about|from|to|with|at|until|till|after)\s+(?=(?:the\s+)?(?:run\s+)?{_NAME_LIST})"), "id"),
    (re.compile(rf"\b(?:wait|follow|tail|watch|stream|show|get|check)\s+(?=(?:on\s+)?(?:the\s+)?{_NAME_LIST})"), "id"),
    # "ftjob's logs" names a job, but "the SDK's status" does not.
    (re.compile(rf"{WORD_START}(?<!the )(?=({_NAME})'s\s+(?:logs?|status|progress|events|output)\b)"), "any"),
    (re.compile(rf"{WORD_START}(?=({_NAME})(?:'s)?\s+(?:logs?|status|progress|events|output)\b)"), "id"),
    (re.compile(rf"\blogs?\s+(?=({_NAME}))"), "id"),
    (re.compile(rf"\b(?:is|did|has|was|how\s+is|how's|whats|what's)\s+(?=({_NAME}))"), "id"),
)


def find_job_names(text: str) -> list[str]:
    """Return the job names a clause mentions, in order, without duplicates.

    After the word "job" any name counts ("delete job foo"), and so does a name with "'s"
    before "logs" or "status" ("ftjob's logs"). Elsewhere only a name that looks generated
    or hyphenated counts ("logs for abc123"), so "delete my emails" names no job. In a
    clause with a job verb ("delete", "show", "wait", "logs") short names count too
    ("delete w1 and x", "logs of run2"). Numbers never count ("wait up to 1e3 seconds").
    """
    short_names = bool(_JOB_VERB.search(text))
    names: list[str] = []
    for pattern, rule in _JOB_NAME_PATTERNS:
        for match in pattern.finditer(text):
            listed = re.split(rf"{_LIST_SEPARATOR}(?:job\s+)?", match.group(1))
            for position, name in enumerate(listed):
                if _accepts_job_name(name, rule, position, short_names) and name not in names:
                    names.append(name)
    return names


def _accepts_job_name(name: str, rule: str, position: int, short_names: bool) -> bool:
    # Only the first name may be an ordinary word: in "job foo and follow it" the word
    # after "and" is a verb, not a second job.
    if rule == "any" and position == 0:
        return _is_name_word(name)
    if short_names and rule == "verb":
        return looks_like_short_job_name(name)
    if short_names and re.fullmatch(r"[a-z]+\d+", name):
        return looks_like_short_job_name(name)  # "logs of w1", "wait for run2"
    return looks_like_id(name)


_DELETE_LIST = re.compile(
    r"\b(?:delete|remove|cancel|kill|stop|terminate|abort)\s+(?:the\s+)?(?:(?:train)?jobs?\s+|runs?\s+)?"
    r"(?:named\s+|called\s+)?(?P<list>.+)$"
)
_LIST_PART_EDGES = re.compile(
    r"^(?:the\s+)?(?:(?:train)?job\s+|run\s+)?|\s+(?:please|now|right\s+now|too|as\s+well|for\s+me)$"
)


def find_unrecognised_delete_targets(text: str, job_names: list[str]) -> list[str]:
    """Return the parts of a delete list ("delete w1 and my emails") that are not job names.

    `text` is the lower-case clause with namespaces and other options masked. Only a
    list of two or more parts is checked, because a single target that names no job
    already yields no delete step.
    """
    match = _DELETE_LIST.search(text)
    if not match:
        return []
    parts = [part.strip(" .!?\"'`") for part in re.split(_LIST_SEPARATOR, match.group("list").strip())]
    if len(parts) < 2:
        return []
    unrecognised = []
    for part in parts:
        name = _LIST_PART_EDGES.sub("", part).strip(" \"'`")
        if name not in job_names:
            unrecognised.append(part)
    return unrecognised
