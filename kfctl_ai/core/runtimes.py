"""TrainingRuntimes and ClusterTrainingRuntimes: what each one runs and which models it serves.

Upstream runtimes carry no model label: a torchtune runtime serves the model that its
model initializer downloads (`STORAGE_URI`), and failing that the one its name spells
(`torchtune-llama3.2-1b`). kfai reads both, plus an optional `kfai.kubeflow.org/model`
annotation for platform teams that want to say it outright.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

FRAMEWORK_LABEL = "trainer.kubeflow.org/framework"
ANCESTOR_LABEL = "trainer.kubeflow.org/trainjob-ancestor-step"
MODEL_ANNOTATION = "kfai.kubeflow.org/model"
TORCHTUNE = "torchtune"
GPU_RESOURCE = "nvidia.com/gpu"


@dataclass
class RuntimeInfo:
    name: str
    kind: str
    framework: str
    trainer_type: str  # "BuiltinTrainer" for torchtune, "CustomTrainer" otherwise
    image: str | None
    num_nodes: int
    gpus_per_node: int
    command: list[str] = field(default_factory=list)
    model: str | None = None
    torchtune_config: str | None = None
    dataset: str | None = None
    resources: dict[str, str] = field(default_factory=dict)
    mpi: bool = False

    @property
    def builtin(self) -> bool:
        return self.framework == TORCHTUNE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _replicated_jobs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("replicatedJobs") or []


def _containers(job: dict[str, Any]) -> list[dict[str, Any]]:
    pod_spec = (((job.get("template") or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    return pod_spec.get("containers") or []


def _env_value(container: dict[str, Any], name: str) -> str | None:
    for item in container.get("env") or []:
        if item.get("name") == name and "value" in item:
            return item["value"]
    return None


def _trainer_container(jobs: list[dict[str, Any]]) -> dict[str, Any] | None:
    for job in jobs:
        labels = ((job.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if ANCESTOR_LABEL not in labels:
            continue
        for container in _containers(job):
            if container.get("name") == "node":
                return container
    return None


def _hf_id(uri: str | None) -> str | None:
    if not uri:
        return None
    return uri[len("hf://"):] if uri.startswith("hf://") else uri


def _model_from_name(name: str) -> str | None:
    """Read the model a torchtune runtime's name spells, as a key for `resolve_model`."""
    match = re.match(r"^torchtune-(.+)$", name)
    return match.group(1) if match else None


def parse_runtime(obj: dict[str, Any]) -> RuntimeInfo | None:
    """Describe one runtime object; None when it lacks the framework label (the SDK skips those too)."""
    metadata = obj.get("metadata") or {}
    labels = metadata.get("labels") or {}
    framework = labels.get(FRAMEWORK_LABEL)
    if not framework:
        return None

    spec = obj.get("spec") or {}
    ml_policy = spec.get("mlPolicy") or {}
    jobs = _replicated_jobs(obj)
    trainer = _trainer_container(jobs) or {}
    limits = ((trainer.get("resources") or {}).get("limits")) or {}
    gpus = int(str(limits.get(GPU_RESOURCE, 0)) or 0)
    mpi = ml_policy.get("mpi")
    if mpi and mpi.get("numProcPerNode"):
        gpus = int(mpi["numProcPerNode"]) if gpus else gpus

    command = list(trainer.get("command") or []) + list(trainer.get("args") or [])
    config_match = re.search(r"--config[ =](\S+)", " ".join(command))

    model = None
    dataset = None
    for job in jobs:
        for container in _containers(job):
            if container.get("name") == "model-initializer":
                model = _hf_id(_env_value(container, "STORAGE_URI"))
            if container.get("name") == "dataset-initializer":
                dataset = _env_value(container, "STORAGE_URI")
    annotations = metadata.get("annotations") or {}
    model = _hf_id(annotations.get(MODEL_ANNOTATION)) or model
    if framework == TORCHTUNE and not model:
        model = _model_from_name(metadata.get("name", ""))

    return RuntimeInfo(
        name=metadata.get("name", ""),
        kind=obj.get("kind") or "ClusterTrainingRuntime",
        framework=framework,
        trainer_type="BuiltinTrainer" if framework == TORCHTUNE else "CustomTrainer",
        image=trainer.get("image"),
        num_nodes=int(ml_policy.get("numNodes") or 1),
        gpus_per_node=gpus,
        command=command,
        model=model,
        torchtune_config=config_match.group(1) if config_match else None,
        dataset=dataset,
        resources={key: str(value) for key, value in limits.items()},
        mpi=bool(mpi),
    )


def parse_runtimes(objects: list[dict[str, Any]]) -> list[RuntimeInfo]:
    parsed = [parse_runtime(obj) for obj in objects]
    return sorted((r for r in parsed if r is not None), key=lambda r: (not r.builtin, r.name))


@lru_cache(maxsize=1)
def upstream_runtime_objects() -> tuple[dict[str, Any], ...]:
    """Load the ClusterTrainingRuntimes that Kubeflow Trainer v2.3.0 installs, for previews without a cluster."""
    import yaml

    text = resources.files("kfctl_ai.core.data").joinpath("upstream_runtimes.yaml").read_text()
    # The C loader parses this file about ten times faster when PyYAML was built with libyaml.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return tuple(doc for doc in yaml.load_all(text, Loader=loader) if doc)


def upstream_runtimes() -> list[RuntimeInfo]:
    return parse_runtimes([dict(obj) for obj in upstream_runtime_objects()])


@dataclass
class RuntimeMatch:
    runtime: RuntimeInfo
    score: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.runtime.to_dict(), "score": self.score, "reason": self.reason}


def _same_model(runtime_model: str | None, model_id: str) -> bool:
    """Compare a runtime's model to a canonical id, ignoring the base/instruct variant."""
    if not runtime_model:
        return False
    from kfctl_ai.core.models import resolve_model
    from kfctl_ai.core.errors import UsageError

    try:
        return resolve_model(runtime_model).spec is resolve_model(model_id).spec
    except UsageError:
        return runtime_model.lower() == model_id.lower()


def rank_for_model(runtimes: list[RuntimeInfo], model_id: str) -> list[RuntimeMatch]:
    """Rank the runtimes that can train `model_id`, best first.

    A torchtune runtime built for the model runs `fine-tune` as is. A generic PyTorch or
    DeepSpeed runtime can train it only with your own script (`kfai train`). Torchtune
    runtimes for other models are left out, because their recipe config names one model.
    """
    matches: list[RuntimeMatch] = []
    for runtime in runtimes:
        if runtime.builtin and _same_model(runtime.model, model_id):
            matches.append(RuntimeMatch(runtime, 100, "built for this model: kfai fine-tune"))
        elif runtime.framework in {"torch", "deepspeed"}:
            score = 50 if runtime.framework == "torch" else 40
            matches.append(RuntimeMatch(runtime, score, "generic: your own script with kfai train"))
    return sorted(matches, key=lambda m: (-m.score, m.runtime.name))


def runtime_model_ids(runtimes: list[RuntimeInfo]) -> set[str]:
    return {r.model for r in runtimes if r.builtin and r.model}
