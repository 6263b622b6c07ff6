"""Extraction of training options from one clause, for the offline planner.

Covers epochs, batch size, sequence length, GPUs, nodes, the fine-tuning method and
precision, and the GPU hardware a preflight question names. Counts are integers and
flags booleans.
"""

from __future__ import annotations

import re

from kfctl_ai.ask.offline_text import NUMBER, NUMBER_TOKEN, WORD_START, decimal_parts, parse_number
from kfctl_ai.core.errors import UnknownNameError
from kfctl_ai.core.gpus import resolve_gpu_type

# GPU names as typed, mapped to the `--gpu-type` name preflight resolves.
GPU_TYPES = {
    "h100": "h100", "h200": "h200", "a100": "a100", "a10g": "a10g", "a10": "a10", "l4": "l4",
    "l40s": "l40s", "l40": "l40", "t4": "t4", "v100": "v100", "a6000": "a6000", "a40": "a40",
    "rtx 4090": "rtx4090", "rtx4090": "rtx4090", "rtx 3090": "rtx3090", "rtx3090": "rtx3090",
    "b200": "b200", "gh200": "gh200", "mi300x": "mi300x", "mi250": "mi250",
}
_GPU_TYPE = "|".join(sorted((re.escape(name) for name in GPU_TYPES), key=len, reverse=True))


_INT = f"({NUMBER})"  # a count that starts a phrase ("4 gpus"), never the "100" of "a100"
_N = f"({NUMBER_TOKEN})"  # a count after its keyword ("epochs=3", "bs8")
_EPOCHS = (
    re.compile(rf"{_INT}\s*-?\s*(?:full\s+)?(?:epochs?|eps?)\b"),
    re.compile(rf"\bepochs?\s*(?:=|:|of|to|is|set\s+to)?\s*{_N}"),
    re.compile(rf"{_INT}\s+(?:passes|pass|times)\s+(?:over|through|on)\b"),
    re.compile(rf"\bfor\s+{_INT}\s+(?:passes|pass)\b"),
)
_BATCH = (
    re.compile(rf"\b(?:micro[\s_-]?)?batch[\s_-]*size\s*(?:=|:|of|to|is|set\s+to)?\s*{_N}"),
    re.compile(rf"\bbs\s*[=:]?\s*{_N}\b"),
    re.compile(rf"\bbatch(?:es)?\s+of\s+{_N}"),
    re.compile(rf"\bbatch\s*[=:]?\s*{_N}\b"),
    re.compile(rf"{_INT}\s+(?:samples|examples|sequences)\s+per\s+(?:batch|step|gpu|device)\b"),
    re.compile(rf"{_INT}\s*(?:per|a)\s+batch\b"),
    re.compile(rf"{_INT}\s*-?\s*batch[\s-]*size\b"),
)
# A sequence length may end in "k" for 1,024 tokens ("4k", "1.5 k").
_LENGTH = rf"({NUMBER}(?:\s?k\b)?)"
_SEQ_LEN = (
    re.compile(rf"\b(?:max(?:imum)?[\s_-]*)?(?:sequence|seq|context|ctx)(?:[\s_]|-(?!\d))*(?:length|len|size|window)?\s*(?:=|:|of|to|is|set\s+to)?\s*{_LENGTH}"),
    re.compile(rf"\bmax[\s_-]*(?:length|len)\s*(?:=|:|of|to|is)?\s*{_LENGTH}"),
    re.compile(rf"{_LENGTH}[\s-]*(?:tokens?|tok)\b(?:\s+(?:context|sequences?|long|max))?"),
    re.compile(rf"{_LENGTH}[\s-]*(?:context|ctx|sequences?|seq[\s_-]*len|sequence\s+length)\b"),
)
_GPUS_TOTAL = re.compile(rf"{_INT}\s*(?:x\s*)?gpus?\s+(?:in\s+total\s+)?(?:across|over|spread\s+(?:across|over))\s+{_INT}\s*nodes?\b")
_GPUS = (
    re.compile(rf"{_INT}\s*(?:x|×)?\s*(?:\d+\s*gb\s+)?(?:nvidia\s+)?(?:{_GPU_TYPE})s?\b"),
    re.compile(rf"{_INT}\s*(?:x|×)?\s*-?(?:more\s+)?(?:\d+\s*gb\s+)?(?:gpus?|cards|accelerators)\b"),
    re.compile(rf"(?:--gpus|\bgpus?\s*[=:]|\bgpu\s+count\s*(?:of|=|:)?)\s*{_N}"),
)
_NODES = (
    re.compile(rf"{_INT}\s*-?\s*nodes?\b(?![\s-]*\d)"),
    re.compile(rf"(?:--nodes|\bnodes?\s*[=:]|\bnode\s+count\s*(?:of|=|:)?)\s*{_N}"),
)
_GPU_MEMORY = re.compile(rf"{_INT}\s*(?:gb|gib|g)\b")
_LORA_RANK = (
    re.compile(rf"\b(?:lora[\s_-]*)?rank(?:-(?=\d)|\s*(?:=|:|of)?\s*){_N}"),
    re.compile(rf"\b(?:lora[\s_-]*)?r\s*=\s*{_N}"),
    re.compile(rf"\blora\s+r\s*:?\s*{_N}"),
    re.compile(rf"{_INT}[\s-]*rank\b"),
)


def _first_number(patterns: tuple[re.Pattern[str], ...], text: str) -> int | str | None:
    for pattern in patterns:
        match = pattern.search(text)
        if match:
            return parse_number(match.group(1))
    return None


def _parse_length(value: str) -> int | str:
    """Read a sequence length, where "k" means 1,024 tokens: "4k" gives 4096, "1.3k" stays as typed."""
    compact = value.replace(" ", "")
    if compact.endswith("k"):
        scaled = parse_number(compact[:-1], 1024)
        return scaled if isinstance(scaled, int) else compact
    return parse_number(compact)


def extract_training_options(text: str, notes: list[str]) -> dict[str, object]:
    """Extract epochs, batch size, sequence length, GPUs, nodes, method, precision and optimizer options.

    `text` must be lower case with number words already written as digits and with model
    and dataset names masked, so that "qwen 2.5 1.5b" or "gsm 8k" cannot read as counts.
    Numbers that are not exact integers stay as typed. Appends to `notes` what it read
    but could not plan.
    """
    options: dict[str, object] = {}

    epochs = _first_number(_EPOCHS, text)
    if epochs is None and re.search(r"\btwice\b", text):
        epochs = 2
    if epochs is None and re.search(r"\bthrice\b", text):
        epochs = 3
    if epochs is not None:
        options["epochs"] = epochs

    batch_size = _first_number(_BATCH, text)
    if batch_size is not None:
        options["batch_size"] = batch_size

    for pattern in _SEQ_LEN:
        match = pattern.search(text)
        if match:
            options["seq_len"] = _parse_length(match.group(1))
            break

    total = _GPUS_TOTAL.search(text)
    total_gpus, total_nodes = (parse_number(total.group(1)), parse_number(total.group(2))) if total else (None, None)
    if isinstance(total_gpus, int) and isinstance(total_nodes, int) and total_nodes > 0:
        # kfai's --gpus counts GPUs per node, so "8 GPUs across 2 nodes" is 4 per node.
        options["nodes"] = total_nodes
        if total_gpus % total_nodes == 0:
            options["gpus"] = total_gpus // total_nodes
        else:
            notes.append(
                f"{total_gpus} GPUs do not split evenly across {total_nodes} nodes and --gpus counts GPUs per node, "
                "so the plan leaves --gpus out"
            )
    else:
        gpus = _first_number(_GPUS, text)
        if gpus is not None:
            options["gpus"] = gpus
        nodes = _first_number(_NODES, text)
        if nodes is not None:
            options["nodes"] = nodes

    options.update(_extract_method(text))
    options.update(_extract_precision(text))
    optimizer = _extract_optimizer(text)
    if optimizer is not None:
        options["optimizer"] = optimizer
    return options


def _extract_method(text: str) -> dict[str, object]:
    options: dict[str, object] = {}
    if re.search(r"\bq[\s-]?lora\b|\b4[\s-]?bit\s+lora\b|\bquantized\s+lora\b|--method[\s=]+qlora", text):
        options["method"] = "qlora"
    elif re.search(r"\b(?:without|no)\s+(?:lora|peft|adapters)\b|--method[\s=]+full", text):
        options["method"] = "full"
    elif re.search(r"\blora\b|\bpeft\b|\blow[\s-]rank\s+adapt|--method[\s=]+lora", text):
        options["method"] = "lora"
    elif re.search(
        r"\bfull(?:y)?[\s-]+(?:(?:parameter|param|weight|model)s?[\s-]+)?"
        r"(?:fine[\s-]?tun\w*|finetun\w*|training|train|ft|sft)\b|\bfull[\s-](?:parameter|param)s?\b|\bmethod\s+full\b",
        text,
    ):
        options["method"] = "full"

    rank = _first_number(_LORA_RANK, text)
    if rank is not None:
        options["lora_rank"] = rank
    return options


def _extract_precision(text: str) -> dict[str, object]:
    options: dict[str, object] = {}
    if re.search(r"\b(?:bf16|bfloat[\s-]?16)\b", text):
        options["dtype"] = "bf16"
    elif re.search(r"\b(?:fp32|float[\s-]?32|full\s+precision|32[\s-]bit\s+(?:precision|floats?))\b", text):
        options["dtype"] = "fp32"
    elif re.search(r"\b(?:fp16|float[\s-]?16)\b", text):
        options["dtype"] = "fp16"  # Not a kfai dtype: validation rejects it with the valid choices.

    if re.search(
        r"\b(?:no|without|disable|disabled|turn\s+off|skip)\s+(?:gradient|activation|grad)[\s-]+checkpointing\b"
        r"|\b(?:gradient|activation|grad)[\s-]+checkpointing\s+(?:off|disabled|false)\b|--no-gradient-checkpointing",
        text,
    ):
        options["gradient_checkpointing"] = False
    elif re.search(r"\b(?:gradient|activation|grad)[\s-]+checkpointing\b", text):
        options["gradient_checkpointing"] = True
    return options


_OPTIMIZER = re.compile(
    r"--optimizer[\s=]+([a-z][\w-]*)|\boptimi[sz]er\s*[=:]\s*([a-z][\w-]*)"
    r"|(?<![\w-])((?:paged[\s_-]?)?adam[\s_-]?w?[\s_-]*8[\s_-]?bits?|8[\s_-]?bits?\s+(?:paged\s+)?adamw?"
    r"|8[\s_-]?bits?\s+optimi[sz]er|adamw?)(?![\w-])"
)


def _extract_optimizer(text: str) -> str | None:
    """Return the optimizer a clause names, or None.

    Any 8-bit Adam ("8-bit adam", "paged adamw 8bit") becomes adamw8bit, kfai's only 8-bit
    optimizer. Other names ("adam", "sgd") stay as typed, so validation rejects them with
    the valid choices.
    """
    match = _OPTIMIZER.search(text)
    if match is None:
        return None
    name = next(group for group in match.groups() if group is not None)
    if match.group(3) is not None and "8" in name:
        return "adamw8bit"
    return name


def extract_gpu_hardware(text: str) -> dict[str, object]:
    """Extract the GPU model or memory a preflight question names ("on an A100", "a 24GB GPU").

    `--gpu-type` and `--gpu-memory` are alternatives, so one of them is returned. A type
    with its memory ("A100 80GB") becomes a type such as `a100-80gb` when kfai's GPU table
    has that variant, and the memory alone otherwise. A memory that is not a whole
    number of GiB stays as typed ("24.5").
    """
    memory = _GPU_MEMORY.search(text)
    gpu_type = re.search(rf"{WORD_START}(?:nvidia\s+)?({_GPU_TYPE})s?\b", text)
    memory_gib = parse_number(memory.group(1)) if memory else None
    if gpu_type and isinstance(memory_gib, int) and memory_gib > 0:
        variant = f"{GPU_TYPES[gpu_type.group(1)]}-{memory_gib}gb"
        try:
            resolve_gpu_type(variant)
            return {"gpu_type": variant}
        except UnknownNameError:
            pass
    if memory_gib is not None:
        return {"gpu_memory": memory_gib}
    if gpu_type:
        return {"gpu_type": GPU_TYPES[gpu_type.group(1)]}
    return {}


_TIME_UNIT = r"(?:seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d)\b"
_SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}  # keyed by the unit's first letter
# The timeout and tail patterns stay strings that re compiles and caches on first use.
# Only wait and logs requests need them, and compiling them at import adds start-up time.
# "--timeout 7200" and "timeout=90" without a unit are seconds, the unit of `jobs wait --timeout`.
_TIMEOUT_SECONDS = (
    rf"(?:--timeout[\s=]+|\btime[\s-]?out\s*(?:of|after|=|:|is|to|at)?\s*)({NUMBER_TOKEN})"
    rf"(?![a-z])(?!\s*-?\s*{_TIME_UNIT})"
)
_DURATION = (
    rf"({NUMBER})\s*-?\s*({_TIME_UNIT})"
    r"|\b(an?|half\s+an?)\s+(second|minute|hour|day)\b"
    r"|(?<![\w.])((?:\d+[dhm])+\d+[hms])\b"  # "1h30m", "2m30s"
)


def extract_timeout(text: str) -> dict[str, object]:
    """Extract how long a wait may take, in seconds ("up to 2 hours", "90m", "--timeout 7200").

    Adjacent amounts add up ("1 hour and 30 minutes", "1h30m"). The result is an int when
    it is a whole number of seconds and a float otherwise. A duration with a number that
    cannot be read ("2,5 hours") is returned as typed, so that validation of the step
    rejects it.
    """
    match = re.search(_TIMEOUT_SECONDS, text)
    if match:
        return {"timeout": parse_number(match.group(1))}
    terms: list[re.Match[str]] = []
    for term in re.finditer(_DURATION, text):
        if terms and text[terms[-1].end():term.start()].strip(" ,") not in ("", "and"):
            break
        terms.append(term)
    if not terms:
        return {}

    # Each amount is (digits, power of ten) in seconds, so that "1.5 hours" adds up exactly.
    amounts: list[tuple[int, int]] = []
    for term in terms:
        if term.group(1) is not None:
            parts = decimal_parts(term.group(1))
            if parts is None:
                return {"timeout": text[terms[0].start():terms[-1].end()]}
            amounts.append((parts[0] * _SECONDS_PER_UNIT[term.group(2)[0]], parts[1]))
        elif term.group(3) is not None:
            digits, power = (5, -1) if term.group(3).startswith("half") else (1, 0)
            amounts.append((digits * _SECONDS_PER_UNIT[term.group(4)[0]], power))
        else:
            for number, unit in re.findall(r"(\d+)([dhms])", term.group(5)):
                amounts.append((int(number) * _SECONDS_PER_UNIT[unit], 0))

    power = min(term_power for _, term_power in amounts)
    total = sum(digits * 10 ** (term_power - power) for digits, term_power in amounts)
    if power >= 0:
        return {"timeout": total * 10**power}
    seconds, remainder = divmod(total, 10**-power)
    return {"timeout": seconds if not remainder else total / 10**-power}


_TAIL = (
    rf"--tail[\s=]+({NUMBER_TOKEN})"
    r"|(?<![\w-])tail\s+-(\d+)\b"  # "tail -20" is the last 20 lines, as in the tail command
    rf"|(?<![\w-])tail\s*(?:[=:]\s*|-n\s*)?({NUMBER})"
    rf"|\b(?:last|final|latest|bottom|most\s+recent)\s+({NUMBER})\s+(?:log\s+|output\s+)?(?:lines?|entries)\b"
    rf"|({NUMBER})\s+(?:last|final|most\s+recent)\s+(?:log\s+|output\s+)?lines?\b"
    r"|\b(?:last|final)\s+(?:log\s+|output\s+)?line\b"
)


def extract_tail(text: str) -> int | str | None:
    """Extract how many of the last log lines a clause requests ("tail 20", "last 50 lines", "--tail 5")."""
    match = re.search(_TAIL, text)
    if match is None:
        return None
    count = next((group for group in match.groups() if group is not None), None)
    return 1 if count is None else parse_number(count)
