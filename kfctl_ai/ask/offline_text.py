"""Text handling for the offline planner: clauses, hostile text, number words and masking.

Everything here works on plain strings with regular expressions and keeps character
offsets stable where a caller relies on them (`lower_keep_offsets`, `mask_spans`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Word edges that treat dashes, dots and slashes as part of a word, so that "llama" in
# "llama-alpaca-x1" or "alpaca" in "tatsu-lab/alpaca" is not a word of its own.
WORD_START = r"(?<![\w./:-])"
WORD_END = r"(?![\w/-])(?!\.\w)"

# A Kubernetes object name (RFC 1123 label), as job names, namespaces and secrets are.
K8S_NAME = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# Runtime names may contain dots ("torchtune-llama3.2-1b").
RUNTIME_NAME = r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?"

# A number as typed, matched whole so that an option gets all of it and not a prefix. It
# may have a minus sign, "_" or "," separators, decimals, an exponent and a "k" suffix
# ("-1", "2.5", "1e3", "1_000", "4k"). A minus is a sign only where it starts a word, so
# "rank-16" and "2-4" contain no negative number. This form follows an option word
# directly ("bs8", "epochs=-1").
NUMBER_TOKEN = r"(?:(?<![\w.-])-)?\.?\d(?:[\d_,.]*\d)?(?:e[-+]?\d+)?(?:k\b)?(?!e?[-+]?[_,.]?\d)"
# The same for a number that starts a phrase ("4 gpus"), which excludes the "100" of
# "a100" and the "5" of "2.5".
NUMBER = rf"(?<![\w.]){NUMBER_TOKEN}"
# Powers of ten beyond this stay as typed, so that "1e999999" never becomes a huge integer.
_MAX_EXPONENT = 100

# Text from which the rest of the sentence reads as instructions to the planner, or as
# shell code, rather than as a request to kfai.
_HOSTILE_MARKERS = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+|any\s+|the\s+|your\s+|of\s+|everything\s+)*"
    r"(?:(?:previous|prior|above|earlier|preceding|former|system|safety|those|these|my|your|other)\b"
    r"|(?:instructions?|prompts?|rules|directions|directives|guidelines|constraints|context|messages?)\b)"
    r"|\bforget\s+(?:everything|all\s+that)\b"
    r"|\b(?:new|updated|real)\s+instructions?\s*:"
    r"|\bsystem\s+prompt\b|\byou\s+are\s+now\b|\bjailbreak\b|\bdeveloper\s+mode\b"
    r"|<\|[a-z_]+\|>|\[/?inst\]|</?s>|###\s*(?:instruction|system)"
    r"|\$\(|`|\brm\s+-rf?\b|\bsudo\b|\|\s*(?:ba|z)?sh\b|\b(?:curl|wget)\s+\S",
    re.IGNORECASE,
)

_COMMAND_START = (
    r"(?:train|fine[\s-]?tune|finetune|tune|run|launch|start|kick|submit|show|list|display|print|get|"
    r"give|tell|stream|follow|tail|watch|wait|delete|remove|cancel|kill|stop|terminate|check|"
    r"preflight|estimate|describe|inspect|what|which|how|will|can|could|is|does)\b"
)
_FINISH_WORDS = (
    r"(?:\s*'s\s+|\s+is\s+|\s+has\s+|\s+have\s+|\s+)(?:done|finished|finishes|finish|completed|completes|complete|"
    r"ends|ended|is\s+over|succeeds|succeeded)"
)
_WAIT_MARKER = re.compile(
    rf",?\s*(?:and\s+)?(?:once|when|after)\s+(?:it|that|the\s+job|the\s+run|training|the\s+training|"
    rf"this){_FINISH_WORDS}\b,?",
    re.IGNORECASE,
)
_CHAIN_SEPARATOR = re.compile(
    r"\s*(?:;|&&|(?<!\d)[.!?](?=\s|$)|,?\s*\b(?:and\s+)?then\b|,?\s*\bafter\s+that\b,?"
    r"|,?\s*\bafterwards?\b,?|,?\s*\bnext\b,|,?\s*\bfinally\b,?"
    rf"|,?\s+but\s+(?=first\b|before\b|{_COMMAND_START})"
    r"|,?\s*\b(?:and\s+)?if\s+(?:so|ok|it\s+(?:does|fits|is\s+ok|works)|that\s+works)\b,?"
    rf"|,?\s+and\s+(?={_COMMAND_START})|,\s*(?={_COMMAND_START}))\s*",
    re.IGNORECASE,
)
_FIRST_MARKER = re.compile(
    r"^(?:but\s+|and\s+)?(?:first|before\s+that|beforehand)\b,?\s*|,?\s*\b(?:first|beforehand)\s*$",
    re.IGNORECASE,
)

_BEFORE_MARKER = re.compile(r"^before\s+(?!that\b|it\b)", re.IGNORECASE)


@dataclass
class Clause:
    """One request-sized piece of a sentence.

    `goes_first` marks a clause that asked to run before the one before it ("but first
    check that it fits"), `goes_after` one that asked to run after the next one ("before
    training X, check ..."), and `wait_marker` a clause that came from "once it is done".
    """

    text: str
    goes_first: bool = False
    wait_marker: bool = False
    goes_after: bool = False


def find_hostile_start(sentence: str) -> int | None:
    """Return where text that reads as planner instructions or shell code starts, if any."""
    match = _HOSTILE_MARKERS.search(sentence)
    return match.start() if match else None


def split_clauses(sentence: str) -> list[Clause]:
    """Split a sentence at chain words ("then", "after that", "; ") into clauses.

    "once it is done" becomes a clause of its own with `wait_marker` set, so that the
    planner can put a wait step there.
    """
    clauses: list[Clause] = []
    position = 0
    for wait in _WAIT_MARKER.finditer(sentence):
        clauses.extend(_split_plain(sentence[position:wait.start()]))
        clauses.append(Clause(text="wait for it", wait_marker=True))
        position = wait.end()
    clauses.extend(_split_plain(sentence[position:]))
    return clauses


def _split_plain(text: str) -> list[Clause]:
    clauses = []
    for piece in _CHAIN_SEPARATOR.split(text):
        piece = piece.strip(" ,")
        if not piece:
            continue
        goes_first = bool(_FIRST_MARKER.search(piece))
        if goes_first:
            piece = _FIRST_MARKER.sub(" ", piece).strip(" ,")
        goes_after = bool(_BEFORE_MARKER.match(piece))
        if goes_after:
            piece = _BEFORE_MARKER.sub("", piece)
        clauses.append(Clause(text=piece, goes_first=goes_first, goes_after=goes_after))
    return clauses


def lower_keep_offsets(text: str) -> str:
    """Lower-case `text` without changing its length, so offsets match the original."""
    return "".join(char.lower() if len(char.lower()) == 1 else char for char in text)


def mask_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """Replace each (start, end) span with spaces, keeping every other offset unchanged."""
    characters = list(text)
    for start, end in spans:
        characters[start:end] = " " * (end - start)
    return "".join(characters)


def decimal_parts(token: str) -> tuple[int, int] | None:
    """Split a NUMBER_TOKEN into an integer and a power of ten: "-2.5e3" gives (-25, 2).

    Separators follow Python's number syntax for "_" and thousands groups for ","
    ("1,000"). Returns None for a token that is no such number ("2,5", "1.2.3", "4k"),
    or whose power of ten is beyond _MAX_EXPONENT.
    """
    sign = -1 if token.startswith("-") else 1
    mantissa, _, exponent = token.lstrip("-").partition("e")
    whole, _, fraction = mantissa.partition(".")
    if "," in whole:
        groups = whole.split(",")
        if not 1 <= len(groups[0]) <= 3 or any(len(group) != 3 for group in groups[1:]):
            return None
        whole = "".join(groups)
    try:
        int(whole or "0")
        int(fraction or "0")
        power = int(exponent or "0") - len(fraction.replace("_", ""))
        digits = int((whole + fraction).replace("_", "") or "0")
    except ValueError:
        return None
    if abs(power) > _MAX_EXPONENT:
        return None
    return sign * digits, power


def parse_number(token: str, factor: int = 1) -> int | str:
    """Return a NUMBER_TOKEN times `factor` as an int when that is exact, else the token as typed.

    "1e3" gives 1000 and "1_6" gives 16, as Python's int() reads it. "2.5",
    "2,5" and "4k" stay strings, so that validation of the step rejects the value the
    user typed instead of a rounded one.
    """
    parts = decimal_parts(token)
    if parts is None:
        return token
    digits, power = parts
    if power >= 0:
        return digits * factor * 10**power
    quotient, remainder = divmod(digits * factor, 10**-power)
    return token if remainder else quotient


_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}
_NUMBER_WORD = re.compile(
    rf"\b(?P<tens>{'|'.join(_TENS)})(?:[\s-](?P<unit>{'|'.join(list(_UNITS)[1:10])}))?\b"
    rf"|\b(?P<small>{'|'.join(_UNITS)})\b"
)
_PHRASE_NUMBERS = (
    (re.compile(r"\ba\s+(?:couple|pair)\s+(?:of\s+)?"), "2 "),
    (re.compile(r"\ba\s+dozen\s+"), "12 "),
    (re.compile(r"\b(?:a|one)\s+hundred\b"), "100"),
    (re.compile(r"\b(?:a|an|one)\s+single\b"), "1"),
    (re.compile(r"\bsingle(?=[\s-]+(?:gpus?|nodes?|epochs?|h100|a100|card)\b)"), "1"),
    (re.compile(r"\ban?(?=\s+(?:gpus?|nodes?|epochs?)\b)"), "1"),
)


def replace_number_words(text: str) -> str:
    """Write counts given in words as digits: "three epochs" -> "3 epochs", "a single GPU" -> "1 GPU".

    Expects lower-case text. Compound tens ("twenty four") are supported up to 99, and
    "a hundred" or "one hundred" becomes 100.
    """
    for pattern, digits in _PHRASE_NUMBERS:
        text = pattern.sub(digits, text)

    def to_digits(match: re.Match[str]) -> str:
        if match.group("small"):
            return str(_UNITS[match.group("small")])
        value = _TENS[match.group("tens")]
        if match.group("unit"):
            value += _UNITS[match.group("unit")]
        return str(value)

    return _NUMBER_WORD.sub(to_digits, text)


# A Hugging Face repo id as people paste it: "org/name", optionally with hf:// or a
# huggingface.co URL in front. Script paths ("scripts/train.py") are excluded by callers.
REPO_ID_PATTERN = re.compile(
    r"(?<![\w./:-])(?P<id>(?:hf://|https?://(?:www\.)?huggingface\.co/(?:datasets/)?)?"
    r"(?P<org>[A-Za-z0-9][\w.-]*[A-Za-z0-9_])/(?P<name>[A-Za-z0-9][\w.-]*[A-Za-z0-9_])"
    r"(?:/[\w.-]*[\w])*)(?![\w/-])",
)
S3_URI_PATTERN = re.compile(r"(?<![\w./:-])s3://[a-z0-9][a-z0-9.-]+[a-z0-9](?:/[\w./=+-]*)?", re.IGNORECASE)
_NOT_REPO_PARTS = {"gpu", "gpus", "node", "nodes", "or", "and", "s", "sec", "step", "epoch", "day", "hr"}


def is_plausible_repo_id(org: str, name: str) -> bool:
    """Tell a Hugging Face id from slash-joined words such as "and/or" or "8/gpu"."""
    for part in (org, name):
        if part.lower() in _NOT_REPO_PARTS or not re.search(r"[a-z]", part, re.IGNORECASE):
            return False
        if len(part) < 2 or part.lower().endswith(".py"):
            return False
    return True
