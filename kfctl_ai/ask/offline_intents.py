"""Choice of the kfai command that one clause requests, from cue words, for the offline planner.

The checks run in a fixed order, so that a clause with several cues gets the most
specific command: a delete or wait names its job, "logs" beats "show", a runtime
question beats "can I", and a memory question beats "fine-tune".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BULK_DELETE = "bulk delete"  # A delete of every job, or of jobs without names: no step.

_DELETE_VERB = re.compile(
    r"\b(?:delete|remove|cancel|kill|stop|terminate|abort|purge|wipe|nuke|get\s+rid\s+of|clean\s+up|tear\s+down)\b"
)
_BULK = re.compile(r"\b(?:all|every|everything|each|entire|any)\b|\b(?:train)?jobs\b|\bruns\b")
# "delete every job except abc123", "delete w1 but keep w2": the jobs named after the cue stay.
# The look-arounds keep job names such as not-needed-7 from counting as a cue.
_EXCLUSION = re.compile(
    r"(?<![\w-])(?:except|excluding|exclude|besides|apart\s+from|other\s+than|save\s+for|but\s+not|not"
    r"|keep(?:ing)?|leav(?:e|ing)|spar(?:e|ing)|(?:all|every\w*|each)\s+(?:(?:train)?jobs?\s+|runs?\s+)?but)(?![\w-])"
)
_LIST_END = re.compile(r"(?:[\s,;]|\band\b|\bbut\b)+$")
_JOB_WORD = re.compile(r"\b(?:train)?jobs?\b|\bruns?\b|\btraining\b")
_WAIT = re.compile(
    r"\bwait(?:ing)?\b|\bblock\s+until\b|\buntil\s+(?:it|the\s+job)\s+(?:is\s+)?(?:done|finishe?s|completes)\b"
)
_LOGS = re.compile(
    r"\blogs?\b|\bstdout\b|\bstderr\b|\boutput\s+(?:of|for|from)\b|\blogging\s+output\b"
    r"|\b(?:last|final|latest|tail)\s+(?:[\w-]+\s+){0,2}?(?:log\s+|output\s+)?lines?\b"
    r"|\bwhat\s+(?:did|does|has|is|was|'s)\s+.+\s+(?:print|printed|printing|output|outputting|say|said|saying"
    r"|log|logged|logging)\b"
)
_FOLLOW_VERB = re.compile(r"\b(?:follow|stream|tail|watch)\b")
_RUNTIME_WORD = re.compile(r"\bruntimes?\b")
_RUNTIME_LIST_CUE = re.compile(
    r"\b(?:which|what|list|show|display|describe|details|available|any|find|get|recommend|suggest|"
    r"best|supported|supports?|compatible|options)\b|\b(?:is|are)\s+there\b|\bruntimes\b"
)
_WHICH_MODELS = re.compile(r"\b(?:which|what)\s+models?\b")
_PREFLIGHT = re.compile(
    r"\bfits?\b|\bfitting\b|\boom\b|\bout\s+of\s+memory\b|\bpre-?flight\b|\bestimate\w*"
    r"|\bhow\s+much\s+(?:gpu\s+)?(?:memory|vram)\b|\b(?:memory|vram)\s+(?:do(?:es)?|would|will|is|does)\b"
    r"|\b(?:memory|vram)\s+(?:estimate|usage|footprint|requirements?|needed|needs?)\b"
    r"|\b(?:check|estimate|compute|calculate|show|compare)\s+(?:me\s+)?(?:the\s+)?(?:gpu\s+)?(?:memory|vram)\b"
    r"|\benough\s+(?:gpus?|memory|vram|room|space|capacity)\b|\bhow\s+many\s+gpus\b"
    r"|\b(?:can|could)\s+i\s+(?:\w+\s+){0,2}?(?:full[\s-]?)?(?:train|fine[\s-]?tune|finetune|tune|run)\b"
    r"|\btoo\s+(?:big|large|much)\b"
    r"|\bis\s+it\s+possible\s+to\b|\bam\s+i\s+able\s+to\b|\bfeasib\w+"
    r"|\b(?:check|verify|see)\s+(?:if|whether|that)\b|\bwill\s+(?:it|this|that)\s+(?:work|run)\b"
    r"|\b(?:can|could)\s+.+\s+be\s+(?:trained|fine[\s-]?tuned|finetuned|run)\b|\benough\b"
)
_TRAIN_VERB = re.compile(
    r"\b(?:train|training|trains|fine[\s-]?tun(?:e|es|ed|ing)|finetun(?:e|es|ed|ing)|tune|tuning|sft|"
    r"launch|start|kick\s+off|submit|run|execute|try|retrain|re-run|rerun)\b"
)
_JOB_SHOW = re.compile(
    r"\b(?:status|state|describe|details?|inspect|progress|events|info|happening)\b|\bhow\s+is\b|\bhow's\b"
    r"|\bgoing\s+on\b|\bup\s+with\b"
    r"|\bwhat\s+happened\b|\bwhy\s+did\b|\bcheck\s+on\b|\blook\s+at\b|\b(?:show|get|display|print|view|see)\b"
    r"|\b(?:done|finished|complete|completed|still\s+running|succeed\w*|fail\w*)\b"
)
_JOBS_LIST = re.compile(
    r"\b(?:train)?jobs\b|\b(?:what|anything|everything|something)(?:'s|\s+is)?\s+(?:still\s+)?"
    r"(?:running|failed|finished|pending|queued)\b|\blist\s+(?:my\s+|the\s+|all\s+)?(?:training\s+)?runs\b"
    r"|\bwhat(?:'s|\s+is)\s+running\b|\bdid\s+(?:anything|any\s+\w+)\s+fail\b"
)
# A question about the cluster's GPUs themselves, not about whether a model fits them.
_CLUSTER_GPUS = re.compile(
    r"\bcluster(?:'s)?\s+gpus?\b|\bgpu\s+nodes?\b|\bnodes?\s+(?:with|that\s+have)\s+gpus\b"
    r"|\bgpus?\s+(?:are|is)\s+(?:\w+\s+)?(?:free|available|idle|unused|there)\b"
    r"|\b(?:free|available|idle|unused)\s+gpus?\b|\b(?:which|what)\s+gpus?\s+(?:do|does|are|is)\b"
)
_NEGATED_DELETE = re.compile(
    r"\b(?:don'?t|do\s+not|never|not|no\s+need\s+to|without)\s+(?:\w+\s+)?"
    r"(?:delete|remove|cancel|kill|stop|terminate|abort|purge|wipe)\b"
)
# Polite openings that may come before the verb of a request.
_OPENING = (
    r"(?:(?:hey|hi|hello|yo)\b[\s\w]{0,20}?[,!:]\s*|(?:hey|hi|hello|yo)\s+\w+\s+|please\s+|pls\s+"
    r"|(?:can|could|would|will)\s+you\s+(?:please\s+)?|i\s+(?:want|need|would\s+like|'d\s+like|wanna)\s+"
    r"(?:you\s+)?(?:to\s+)?|let'?s\s+|go\s+ahead\s+and\s+|now\s+|ok(?:ay)?,?\s+|so,?\s+|just\s+)*"
)
_IMPERATIVE_TRAIN = re.compile(
    rf"^{_OPENING}(?:train|fine[\s-]?tune|finetune|tune|sft|launch|start|kick\s+off|submit|run|execute|retrain"
    r"|do\s+an?\s+(?:\w+[\s-]+){0,3}?(?:fine[\s-]?tun\w*|finetun\w*|training)|try)\b"
)
# "wait for X" is a wait request even when X is no job name, so that the message reports the missing job.
# It stays a string that re compiles on first use, because most sentences never need it.
_IMPERATIVE_WAIT = rf"^{_OPENING}wait\s+(?:for|on|until|till)\b"
_PREFLIGHT_EXPLICIT = re.compile(
    r"\bpre-?flight\b|\b(?:check|verify|see)\s+(?:if|whether|that)\b|\bestimate\w*|\bhow\s+much\s+(?:gpu\s+)?memory\b"
)
# A question about training ("how long does it take to train ...") is not a request to train.
_QUESTION_START = re.compile(
    r"^(?:hey\s+\w+,?\s+|so,?\s+|ok(?:ay)?,?\s+)?(?:how|what|why|when|where|should|which|who|whose|does|did|"
    r"do(?=\s+(?:i|you|we|they)\b)|is|are|was|were|would(?!\s+you)|has|have|shall)\b"
)


@dataclass(frozen=True)
class ClauseCues:
    """Facts about one clause that the choice of a command depends on."""

    text: str
    has_model: bool
    has_dataset: bool
    has_script: bool
    has_runtime_name: bool
    job_names: tuple[str, ...]
    refers_back: bool
    previous_job: bool
    previous_command: str | None


def classify_clause(cues: ClauseCues) -> str | None:
    """Return the kfai command a clause requests, BULK_DELETE, or None when it requests none."""
    text = cues.text
    names = bool(cues.job_names)
    job_target = names or (cues.refers_back and cues.previous_job)

    if _DELETE_VERB.search(text) and not _NEGATED_DELETE.search(text):
        if (not names or _EXCLUSION.search(text)) and _BULK.search(text):
            return BULK_DELETE
        if job_target or (_JOB_WORD.search(text) and not cues.has_model):
            return "jobs delete"
    if _WAIT.search(text) and (
        job_target or cues.previous_job or _JOB_WORD.search(text) or re.search(_IMPERATIVE_WAIT, text)
    ):
        return "jobs wait"
    if _IMPERATIVE_TRAIN.search(text) and not names and not _PREFLIGHT_EXPLICIT.search(text):
        # "train X on Y with qlora so it fits on one GPU, and log to stdout" is a training
        # request whose other cue words describe it.
        if cues.has_script:
            return "train"
        if cues.has_model or cues.has_dataset:
            return "fine-tune"
    if _LOGS.search(text):
        return "logs"
    if _FOLLOW_VERB.search(text) and (job_target or (cues.previous_job and not cues.has_model)):
        return "logs"

    runtime_command = _classify_runtime_question(cues)
    if runtime_command:
        return runtime_command
    if _CLUSTER_GPUS.search(text) and not (cues.has_model or cues.has_dataset or cues.has_script or names):
        return "cluster gpus"
    if _PREFLIGHT.search(text) and (cues.has_model or not names):
        return "preflight"
    if cues.has_script and not _QUESTION_START.search(text):
        return "train"
    fine_tune = _classify_training_request(cues)
    if fine_tune:
        return fine_tune

    if job_target and _JOB_SHOW.search(text):
        return "jobs show"
    if _JOBS_LIST.search(text):
        return "jobs"
    return None


def _classify_runtime_question(cues: ClauseCues) -> str | None:
    text = cues.text
    if _WHICH_MODELS.search(text) and not cues.has_model:
        return "runtimes"
    if not _RUNTIME_WORD.search(text):
        return None
    wants_training = _TRAIN_VERB.search(text) and (cues.has_model or cues.has_dataset)
    if not _RUNTIME_LIST_CUE.search(text) and (wants_training or _PREFLIGHT.search(text)):
        return None  # "train X with the Y runtime" and "will X fit on the Y runtime" use it as an option.
    if cues.has_runtime_name and not cues.has_model:
        return "runtimes show"
    return "runtimes"


def _classify_training_request(cues: ClauseCues) -> str | None:
    text = cues.text
    if _QUESTION_START.search(text):
        return None
    has_verb = bool(_TRAIN_VERB.search(text))
    if has_verb and (cues.has_model or cues.has_dataset):
        return "fine-tune"
    if cues.has_model and cues.has_dataset:
        return "fine-tune"
    if has_verb and cues.refers_back and cues.previous_command in ("fine-tune", "preflight", "train"):
        # "then run it on 4 GPUs": the same training again, or the training a check was for.
        return "train" if cues.previous_command == "train" else "fine-tune"
    return None


def before_exclusion(text: str) -> str | None:
    """Return the part of a clause before it names jobs to keep, or None when it names none.

    "delete w1 and w2, but not w3" gives "delete w1 and w2".
    """
    match = _EXCLUSION.search(text)
    if match is None:
        return None
    return _LIST_END.sub("", text[: match.start()])


def mentions_every_job(text: str) -> bool:
    """Tell whether a clause speaks of all jobs ("delete abc123 and all other jobs")."""
    return bool(re.search(r"\b(?:all|every|everything)\b", text))
