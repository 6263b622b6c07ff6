"""Extraction of training options from one clause, for the offline planner.

Covers epochs, batch size, sequence length, GPUs, nodes, the fine-tuning method and
precision, and the GPU hardware a preflight question names. Counts are integers and
flags booleans.
"""

from __future__ import annotations

import re

from kfctl_ai.ask.offline_text import WORD_START
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


_INT = r"(?<![\w.])(\d+)(?!\d)"  # a count that starts a phrase ("4 gpus"), never the "100" of "a100"
_N = r"(\d+)"  # a count after its keyword ("epochs=3", "bs8")
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
_LENGTH = r"(?<![\w.])(\d+(?:\.\d+)?\s*k?)\b"
_SEQ_LEN = (
    re.compile(rf"\b(?:max(?:imum)?[\s_-]*)?(?:sequence|seq|context|ctx)[\s_-]*(?:length|len|size|window)?\s*(?:=|:|of|to|is|set\s+to)?\s*{_LENGTH}"),
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
_GPU_MEMORY = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:gb|gib|g)\b")
_LORA_RANK = (
    re.compile(rf"\b(?:lora[\s_-]*)?rank\s*(?:=|:|of|-)?\s*{_N}"),
    re.compile(rf"\b(?:lora[\s_-]*)?r\s*=\s*{_N}"),
    re.compile(rf"\blora\s+r\s*:?\s*{_N}"),
    re.compile(rf"{_INT}[\s-]*rank\b"),
)


def _first_int(patterns: tuple[re.Pattern[str], ...], text: str) -> int | None:
    for pattern in patterns:
        match = pattern.search(text)
        if match:
            return int(match.group(1))
    return None


def _parse_length(value: str) -> int:
    value = value.replace(" ", "")
    if value.endswith("k"):
        return int(float(value[:-1]) * 1024)
    return int(float(value))


def extract_training_options(text: str) -> dict[str, object]:
    """Extract epochs, batch size, sequence length, GPUs, nodes, method and precision options.

    `text` must be lower case with number words already written as digits and with model
    and dataset names masked, so that "qwen 2.5 1.5b" or "gsm 8k" cannot read as counts.
    """
    options: dict[str, object] = {}

    epochs = _first_int(_EPOCHS, text)
    if epochs is None and re.search(r"\btwice\b", text):
        epochs = 2
    if epochs is None and re.search(r"\bthrice\b", text):
        epochs = 3
    if epochs is not None:
        options["epochs"] = epochs

    batch_size = _first_int(_BATCH, text)
    if batch_size is not None:
        options["batch_size"] = batch_size

    for pattern in _SEQ_LEN:
        match = pattern.search(text)
        if match:
            options["seq_len"] = _parse_length(match.group(1))
            break

    total = _GPUS_TOTAL.search(text)
    if total and int(total.group(2)) > 0 and int(total.group(1)) % int(total.group(2)) == 0:
        # kfai's --gpus counts GPUs per node, so "8 GPUs across 2 nodes" is 4 per node.
        options["gpus"] = int(total.group(1)) // int(total.group(2))
        options["nodes"] = int(total.group(2))
    else:
        gpus = _first_int(_GPUS, text)
        if gpus is not None:
            options["gpus"] = gpus
        nodes = _first_int(_NODES, text)
        if nodes is not None:
            options["nodes"] = nodes

    options.update(_extract_method(text))
    options.update(_extract_precision(text))
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

    rank = _first_int(_LORA_RANK, text)
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


def extract_gpu_hardware(text: str) -> dict[str, object]:
    """Extract the GPU model or memory a preflight question names ("on an A100", "a 24GB GPU").

    `--gpu-type` and `--gpu-memory` are alternatives, so one of them is returned. A type
    with its memory ("A100 80GB") becomes a type such as `a100-80gb` when kfai's GPU table
    has that variant, and the memory alone otherwise.
    """
    memory = _GPU_MEMORY.search(text)
    gpu_type = re.search(rf"{WORD_START}(?:nvidia\s+)?({_GPU_TYPE})s?\b", text)
    memory_gib = float(memory.group(1)) if memory else None
    if gpu_type and memory_gib is not None:
        variant = f"{GPU_TYPES[gpu_type.group(1)]}-{memory.group(1)}gb"
        try:
            resolve_gpu_type(variant)
            return {"gpu_type": variant}
        except UnknownNameError:
            pass
    if memory_gib is not None:
        return {"gpu_memory": int(memory_gib) if memory_gib.is_integer() else memory_gib}
    if gpu_type:
        return {"gpu_type": GPU_TYPES[gpu_type.group(1)]}
    return {}
