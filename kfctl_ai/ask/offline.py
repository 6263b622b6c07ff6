"""The offline planner: turn one sentence into kfai plan steps with rules, without an LLM.

`plan_sentence` splits the sentence into clauses at chain words ("then", "after that"),
chooses one command per clause from cue words, and fills in only the arguments the
sentence states. A later step refers to a job that an earlier step creates as
`"$steps[N].job"`. The planner resolves datasets to URIs but leaves models as
normalized keys (`llama-3.2-1b`) for the model catalog to resolve.

Hostile text never adds steps. Everything from the first phrase that reads as
instructions to the planner or as shell code is ignored, and a sentence that contains
such a phrase gets no delete step at all. A delete without job names ("delete all
jobs") yields no step because kfai has no bulk delete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kfctl_ai.ask import offline_names as names
from kfctl_ai.ask import offline_options as options
from kfctl_ai.ask.offline_intents import BULK_DELETE, ClauseCues, before_exclusion, classify_clause, mentions_every_job
from kfctl_ai.ask.offline_models import ModelMention, find_models, model_identity
from kfctl_ai.ask.offline_text import (
    NUMBER,
    Clause,
    find_hostile_start,
    lower_keep_offsets,
    mask_spans,
    replace_number_words,
    split_clauses,
)
from kfctl_ai.core.errors import UsageError

MAX_SENTENCE_CHARS = 2000
MAX_STEPS = 10

# Arguments each command accepts, named as in a plan step and in the order steps list
# them. "namespace" is the global -n/--namespace option, so every command takes it.
COMMAND_ARGS: dict[str, tuple[str, ...]] = {
    "fine-tune": (
        "model", "dataset", "epochs", "batch_size", "seq_len", "method", "lora_rank", "gpus", "nodes",
        "dtype", "optimizer", "gradient_checkpointing", "runtime", "name", "hf_token_secret", "namespace",
    ),
    "preflight": (
        "model", "method", "lora_rank", "gpus", "nodes", "batch_size", "seq_len", "dtype", "optimizer",
        "gradient_checkpointing", "gpu_type", "gpu_memory", "runtime", "namespace",
    ),
    "runtimes": ("model", "framework", "namespace"),
    "runtimes show": ("name", "namespace"),
    "logs": ("job", "step", "follow", "tail", "namespace"),
    "jobs": ("status", "namespace"),
    "jobs show": ("job", "namespace"),
    "jobs wait": ("job", "timeout", "namespace"),
    "jobs delete": ("job", "namespace"),
    "train": ("script", "gpus", "nodes", "local", "namespace"),
    "cluster gpus": (),
}
_JOB_COMMANDS = ("logs", "jobs show", "jobs wait", "jobs delete")
# Options a fine-tune inherits from the preflight that checked it, and the other way round.
_SHAPE_ARGS = (
    "method", "lora_rank", "gpus", "nodes", "batch_size", "seq_len", "dtype", "optimizer", "gradient_checkpointing",
)
_REPEAT = re.compile(r"(?:again\s+)?(?:on|with|using|across|in)\b", re.IGNORECASE)
_REFERS_BACK = re.compile(
    r"\b(?:it|its|them|their)\b|\b(?:the|that|this|my|our)\s+(?:new\s+|same\s+)?(?:train)?(?:job|run|training)\b"
)

CAPABILITIES = (
    "Offline, kfai can fine-tune, run a training script, run a preflight, list runtimes, jobs or cluster GPUs, "
    "and show, wait for, delete or get logs of a named job."
)
LLM_HINT = "Set KFAI_LLM_MODEL (e.g. gpt-4o-mini) to plan with an LLM."


@dataclass
class OfflinePlan:
    """The planner's result.

    `steps` contains `{"command": ..., "args": {...}}` dicts in execution order.
    `understood` contains short phrases for what was recognised. `message` is set only
    when there are no steps, and says why and what kfai can do. `warnings` lists parts
    of the sentence that were ignored or refused while other parts became steps.
    """

    steps: list[dict[str, object]] = field(default_factory=list)
    understood: list[str] = field(default_factory=list)
    message: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Analysis:
    clause: Clause
    command: str | None
    models: list[ModelMention]
    dataset_uris: list[str]
    values: dict[str, object]
    job_names: list[str]
    refers_back: bool
    unrecognised_delete_targets: list[str]
    kept_jobs: list[str]
    notes: list[str] = field(default_factory=list)


def plan_sentence(sentence: str) -> OfflinePlan:
    """Plan one sentence into kfai steps with rules.

    A dataset outside the catalog is kept as typed in the step, so that validation of
    the step raises the unknown-dataset error with close matches. Raises UsageError for
    an empty sentence, one longer than MAX_SENTENCE_CHARS, or one that requests more
    than MAX_STEPS steps.
    """
    text = " ".join(sentence.split())
    if not text:
        raise UsageError("the sentence is empty", hint='say what to do, for example: kfai ask "list my jobs"')
    if len(text) > MAX_SENTENCE_CHARS:
        raise UsageError(
            f"the sentence is {len(text)} characters long, more than the {MAX_SENTENCE_CHARS} the planner reads",
            hint="ask for one thing at a time",
        )

    plan = OfflinePlan()
    notes: list[str] = []
    hostile_start = find_hostile_start(text)
    if hostile_start is not None:
        ignored = text[hostile_start:hostile_start + 60]
        notes.append(f"ignored everything from '{ignored}' on, because it reads as instructions to the planner")
        text = text[:hostile_start]

    analyses = _analyse_clauses(split_clauses(text))
    _build_steps(analyses, plan, notes, allow_delete=hostile_start is None)

    if len(plan.steps) > MAX_STEPS:
        raise UsageError(
            f"the sentence requests {len(plan.steps)} steps, more than the maximum of {MAX_STEPS} per plan",
            hint="split the request into several kfai ask calls",
        )
    if plan.steps:
        plan.warnings = notes
    else:
        plan.message = _no_plan_message(plan.understood, notes)
    return plan


def _analyse_clauses(clauses: list[Clause]) -> list[_Analysis]:
    """Analyse each clause, folding clauses that request nothing into a neighbour.

    "train llama on alpaca and run 3 epochs" splits before "run", but "run 3 epochs"
    is no request of its own, so it joins the clause before it.
    """
    analyses: list[_Analysis] = []
    prefix = ""
    for clause in clauses:
        if prefix:
            clause = Clause(prefix + clause.text, clause.goes_first, clause.wait_marker, clause.goes_after)
            prefix = ""
        analysis = _analyse(clause, analyses)
        if analysis.command is not None or clause.wait_marker:
            analyses.append(analysis)
            continue
        previous = analyses[-1] if analyses else None
        if previous is not None and previous.command in ("fine-tune", "train") and _REPEAT.match(clause.text):
            # "run train.py locally, then on 4 GPUs": the same command again with other options.
            analyses.append(_analyse(Clause("run it " + clause.text, clause.goes_first), analyses))
            continue
        if previous is not None and previous.command not in (None, BULK_DELETE) and not previous.clause.wait_marker:
            joined = Clause(previous.clause.text + ", " + clause.text, previous.clause.goes_first,
                            goes_after=previous.clause.goes_after)
            analyses[-1] = _analyse(joined, analyses[:-1])
        elif previous is None:
            prefix = clause.text + ", "
        else:
            analyses.append(analysis)
    if prefix:
        analyses.append(_analyse(Clause(prefix.rstrip(", ")), analyses))

    for index in range(1, len(analyses)):
        if analyses[index].clause.goes_first or analyses[index - 1].clause.goes_after:
            analyses[index - 1], analyses[index] = analyses[index], analyses[index - 1]
    return analyses


def _analyse(clause: Clause, earlier: list[_Analysis]) -> _Analysis:
    raw = clause.text
    low = lower_keep_offsets(raw)
    values: dict[str, object] = {}
    spans: list[tuple[int, int]] = []

    script = names.find_script(raw)
    if script:
        values["script"] = script[0]
        spans.append(script[1])
    datasets = [d for d in names.find_datasets(raw, low) if not _overlaps((d.start, d.end), spans)]
    models = [m for m in find_models(raw, set(names.CATALOG_IDS)) if not _overlaps((m.start, m.end), spans)]
    datasets = [d for d in datasets if not any(_overlaps((d.start, d.end), [(m.start, m.end)]) for m in models)]
    spans += [(m.start, m.end) for m in models] + [(d.start, d.end) for d in datasets]

    for key, finder in (("namespace", names.find_namespace), ("runtime", names.find_runtime_name),
                        ("name", names.find_job_name_option), ("hf_token_secret", names.find_hf_token_secret),
                        ("step", names.find_step)):
        found = finder(mask_spans(low, spans))
        if found:
            values[key] = found[0]
            if key != "name":  # "the job named old-run-7" names the job a request is about
                spans.append(found[1])

    masked = mask_spans(low, spans)
    job_names = names.find_job_names(masked)
    refers_back = bool(_REFERS_BACK.search(low))
    previous = next((a for a in reversed(earlier) if a.command and a.command != BULK_DELETE), None)
    cues = ClauseCues(
        text=low,
        has_model=bool(models),
        has_dataset=bool(datasets),
        has_script=script is not None,
        has_runtime_name="runtime" in values,
        job_names=tuple(job_names),
        refers_back=refers_back,
        previous_job=any(a.command in ("fine-tune", "train") or a.job_names for a in earlier),
        previous_command=previous.command if previous else None,
    )
    command = "jobs wait" if clause.wait_marker else classify_clause(cues)

    if command == "fine-tune" and not datasets:
        datasets = names.find_unknown_dataset(masked)
    if datasets:
        values["dataset"] = datasets[0].uri
    counts_text = replace_number_words(mask_spans(low, spans + [(d.start, d.end) for d in datasets]))
    notes: list[str] = []
    values.update(options.extract_training_options(counts_text, notes))
    values.update(options.extract_gpu_hardware(counts_text))
    if command == "jobs wait":
        values.update(options.extract_timeout(counts_text))
    values["tail"] = options.extract_tail(counts_text) if command == "logs" else None
    # Flags the sentence does not set stay out of the step; gradient_checkpointing may be False.
    # "tail 20 lines" requests the last lines, so the word "tail" turns on follow only without a count.
    values["follow"] = True if names.wants_follow(low, tail_given=values["tail"] is not None) else None
    values["local"] = True if names.wants_local_run(low) else None
    values["status"] = names.find_status(low)
    values["framework"] = names.find_framework(masked)
    if models:
        values["model"] = models[0].value
    unrecognised: list[str] = []
    kept: list[str] = []
    if command == "jobs delete":
        # Only the part before "except", "but keep" and the like lists jobs to delete.
        delete_text = before_exclusion(masked) or masked
        kept = [job for job in job_names if job not in names.find_job_names(delete_text)]
        job_names = [job for job in job_names if job not in kept]
        unrecognised = names.find_unrecognised_delete_targets(delete_text, job_names)
    unused = _unused_number_note(command, counts_text, job_names, values)
    if unused:
        notes.append(unused)
    return _Analysis(
        clause, command, models, [d.uri for d in datasets], values, job_names, refers_back, unrecognised, kept, notes
    )


# The option of a job request that takes a number, and how to set it, for the note when none is read.
_NUMBER_OPTIONS = {
    "logs": ("tail", "To print the last lines, say 'last 20 lines' or '--tail 20'"),
    "jobs wait": ("timeout", "To set the wait time, give a unit, as in 'for 2 hours' or '--timeout 7200'"),
}


def _unused_number_note(command: str | None, text: str, job_names: list[str], values: dict[str, object]) -> str | None:
    """Return a note for a number in a logs or wait request that set no option ("wait for job x for 7200")."""
    if command not in _NUMBER_OPTIONS:
        return None
    key, hint = _NUMBER_OPTIONS[command]
    if values.get(key) is not None:
        return None
    for job in job_names:
        text = re.sub(rf"(?<![\w-]){re.escape(job)}(?![\w-])", " ", text)
    match = re.search(NUMBER, text)
    if match is None:
        return None
    return f"ignored the number '{match.group(0)}' because it sets no option of '{command}'. {hint}"


def _overlaps(span: tuple[int, int], others: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in others)


def _build_steps(analyses: list[_Analysis], plan: OfflinePlan, notes: list[str], allow_delete: bool) -> None:
    last_job: str | None = None
    for position, analysis in enumerate(analyses):
        command = analysis.command
        plan.understood.extend(_describe(analysis))
        if command is None:
            continue
        notes.extend(analysis.notes)
        if command == BULK_DELETE:
            notes.append("kfai has no bulk delete: delete jobs one at a time with 'kfai jobs delete JOB'")
            continue
        if command == "jobs delete" and not allow_delete:
            notes.append("refused to delete a job in a sentence that also contains instructions to the planner")
            continue
        if command == "jobs delete" and analysis.kept_jobs:
            kept = ", ".join(f"'{job}'" for job in analysis.kept_jobs)
            if not analysis.job_names:
                notes.append(f"the sentence asks to keep {kept} and names no job to delete, so no job is deleted")
                continue
            notes.append(f"the plan does not delete {kept}, which the sentence asks to keep")
        if command == "jobs delete" and analysis.unrecognised_delete_targets:
            # A partial delete of a list is worse than none, so the whole delete is dropped.
            parts = ", ".join(f"'{part}'" for part in analysis.unrecognised_delete_targets)
            notes.append(f"{parts} is not a job name, so no job is deleted")
            continue
        if command == "jobs delete" and mentions_every_job(analysis.clause.text.lower()):
            notes.append("kfai has no bulk delete, so only the jobs named in the sentence are deleted")

        values = dict(analysis.values)
        if command in ("fine-tune", "preflight", "runtimes") and "model" not in values:
            _inherit_model(analyses, position, values, command)
        if command == "train" and "script" not in values and analysis.refers_back:
            values["script"] = _previous_values(analyses, position, "train").get("script")
        if command == "runtimes show":
            values["name"] = values.get("runtime")
        step_args = {key: values[key] for key in COMMAND_ARGS[command] if values.get(key) is not None}

        if command in _JOB_COMMANDS:
            jobs = analysis.job_names or ([last_job] if last_job else [])
            if not jobs:
                notes.append(f"the request for '{command}' names no job")
                continue
            for job in jobs:
                plan.steps.append({"command": command, "args": {"job": job, **step_args}})
            last_job = jobs[-1]
            continue
        if command in ("fine-tune", "preflight") and "model" not in step_args:
            notes.append(f"the {command} request names no model")
            continue
        if command == "train" and "script" not in step_args:
            notes.append("the training request names no script file (for example train.py)")
            continue
        for args in _split_per_model(analysis, step_args):
            plan.steps.append({"command": command, "args": args})
            if command in ("fine-tune", "train"):
                last_job = f"$steps[{len(plan.steps) - 1}].job"


def _split_per_model(analysis: _Analysis, step_args: dict[str, object]) -> list[dict[str, object]]:
    """Return one argument set per distinct model the clause names.

    "train llama 3.2 1b on alpaca and qwen 2.5 1.5b on gsm8k" pairs models and datasets
    in order when their counts match. Otherwise every model gets the first dataset.
    """
    models: dict[str, str] = {}
    for mention in analysis.models:
        models.setdefault(model_identity(mention.value), mention.value)
    if "model" not in step_args or len(models) < 2:
        return [step_args]
    paired = len(analysis.dataset_uris) == len(models) and "dataset" in step_args
    split = []
    for index, model in enumerate(models.values()):
        args = {**step_args, "model": model}
        if paired:
            args["dataset"] = analysis.dataset_uris[index]
        split.append(args)
    return split


def _inherit_model(analyses: list[_Analysis], position: int, values: dict[str, object], command: str) -> None:
    """Fill in the model a clause refers to ("then train it on dolly") from the nearest other clause."""
    analysis = analyses[position]
    if command == "runtimes" and not analysis.refers_back:
        return
    order = list(range(position - 1, -1, -1)) + list(range(position + 1, len(analyses)))
    for index in order:
        source = analyses[index]
        if "model" not in source.values:
            continue
        values["model"] = source.values["model"]
        inherited = list(_SHAPE_ARGS)
        if command == "fine-tune" and source.command == "fine-tune":
            inherited.append("dataset")  # "then run it again on 4 GPUs"
        if command in ("fine-tune", "preflight") and source.command in ("fine-tune", "preflight"):
            for key in inherited:
                if values.get(key) is None and source.values.get(key) is not None:
                    values[key] = source.values[key]
        return


def _previous_values(analyses: list[_Analysis], position: int, command: str) -> dict[str, object]:
    for analysis in reversed(analyses[:position]):
        if analysis.command == command:
            return analysis.values
    return {}


def _describe(analysis: _Analysis) -> list[str]:
    phrases = []
    if analysis.command == BULK_DELETE:
        phrases.append("a request to delete several jobs at once")
    elif analysis.command:
        phrases.append(f"a '{analysis.command}' request")
    phrases += [f"model {model.value}" for model in analysis.models]
    if analysis.values.get("dataset"):
        phrases.append(f"dataset {analysis.values['dataset']}")
    phrases += [f"job {name}" for name in analysis.job_names]
    for key in ("epochs", "gpus", "nodes", "method", "namespace"):
        if analysis.values.get(key) is not None:
            phrases.append(f"{key.replace('_', ' ')} {analysis.values[key]}")
    return phrases


def _no_plan_message(understood: list[str], notes: list[str]) -> str:
    """Build the message for a sentence without steps: why, what kfai can do, and the LLM option."""
    if understood:
        opening = "kfai could not plan this sentence. It understood " + ", ".join(understood) + "."
    else:
        opening = "kfai could not plan this sentence: it names no kfai operation."
    reasons = "".join(f" {note[0].upper()}{note[1:]}." for note in notes)
    return f"{opening}{reasons} {CAPABILITIES} {LLM_HINT}"
