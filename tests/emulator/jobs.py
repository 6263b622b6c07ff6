"""Turn a TrainJob and its runtime into the pods and log lines that Kubeflow Trainer would produce.

Trainer v2 renders a TrainJob into a JobSet with one replicated job per runtime step; JobSet then
creates one Kubernetes Job per replica and each Job one pod. This module builds those pods
directly, with the labels, names, containers and resources that the Kubeflow SDK reads back.
"""

from __future__ import annotations

import copy
import hashlib
import random
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

TRAINER_GROUP = "trainer.kubeflow.org"
ANCESTOR_LABEL = "trainer.kubeflow.org/trainjob-ancestor-step"
FRAMEWORK_LABEL = "trainer.kubeflow.org/framework"
JOBSET_NAME_LABEL = "jobset.sigs.k8s.io/jobset-name"
REPLICATED_JOB_LABEL = "jobset.sigs.k8s.io/replicatedjob-name"
JOB_INDEX_LABEL = "batch.kubernetes.io/job-completion-index"

DATASET_INITIALIZER = "dataset-initializer"
MODEL_INITIALIZER = "model-initializer"
INITIALIZER_STEPS = (DATASET_INITIALIZER, MODEL_INITIALIZER)
LAUNCHER = "launcher"
NODE = "node"

STEPS_PER_EPOCH = 5
MAX_TRAINING_STEPS = 200

# Kubernetes draws generated name suffixes from this alphabet (no vowels, no 0/1/3).
_NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass
class PodPlan:
    """One pod of a TrainJob: its JobSet coordinates, the step name the SDK shows, and its spec.

    Each replicated job of the runtime becomes one indexed Job, whose pods differ by their
    completion index: node pods 0..numNodes-1 are `<job>-node-0-<index>-<suffix>`.
    """

    replicated_job: str
    completion_index: int
    step: str
    pod_name: str
    container_name: str
    spec: dict
    writes_training_log: bool = False


@dataclass
class JobPlan:
    """The pods of a TrainJob in the order they run: the initializer stage, then the trainer stage."""

    framework: str
    stages: list[list[PodPlan]] = field(default_factory=list)
    num_nodes: int = 1
    epochs: int = 1


class PlanError(ValueError):
    """A runtime that cannot be rendered into pods (missing replicated jobs or containers)."""


def generated_suffix(rng: random.Random, length: int = 5) -> str:
    return "".join(rng.choice(_NAME_SUFFIX_ALPHABET) for _ in range(length))


def _merge_env(current: list[dict] | None, overrides: list[dict] | None) -> list[dict]:
    merged = {entry["name"]: entry for entry in current or []}
    for entry in overrides or []:
        merged[entry["name"]] = entry
    return list(merged.values())


def _stringify_quantities(quantities: dict | None) -> dict[str, str]:
    return {key: str(value) for key, value in (quantities or {}).items()}


def _normalize_resources(resources: dict | None) -> dict:
    """Default requests to limits, as the API server does for resources that set only limits."""
    limits = _stringify_quantities((resources or {}).get("limits"))
    requests = _stringify_quantities((resources or {}).get("requests"))
    for key, value in limits.items():
        requests.setdefault(key, value)
    normalized: dict = {}
    if limits:
        normalized["limits"] = limits
    if requests:
        normalized["requests"] = requests
    return normalized


def _find_container(pod_spec: dict, name: str) -> dict | None:
    for container in pod_spec.get("containers") or []:
        if container.get("name") == name:
            return container
    return None


def _apply_trainer_overrides(container: dict, trainer: dict, is_ancestor: bool) -> None:
    # Image, command, args and env go to the job that carries the trainer ancestor label.
    # Resources per node go to every pod of the trainer stage.
    if is_ancestor:
        if trainer.get("image"):
            container["image"] = trainer["image"]
        if trainer.get("command"):
            container["command"] = list(trainer["command"])
        if trainer.get("args"):
            container["args"] = list(trainer["args"])
        if trainer.get("env"):
            container["env"] = _merge_env(container.get("env"), trainer["env"])
    if trainer.get("resourcesPerNode"):
        container["resources"] = copy.deepcopy(trainer["resourcesPerNode"])


def _apply_initializer_overrides(container: dict, initializer: dict | None) -> None:
    if not initializer:
        return
    overrides = list(initializer.get("env") or [])
    if initializer.get("storageUri"):
        overrides.append({"name": "STORAGE_URI", "value": initializer["storageUri"]})
    container["env"] = _merge_env(container.get("env"), overrides)


def _volume_claims(runtime_spec: dict, job_name: str) -> dict[str, str]:
    """Map each volume claim template name of the runtime to the claim name of this job."""
    claims = {}
    for policy in runtime_spec.get("template", {}).get("spec", {}).get("volumeClaimPolicies") or []:
        for template in policy.get("templates") or []:
            name = template.get("metadata", {}).get("name")
            if name:
                claims[name] = f"{name}-{job_name}"
    return claims


def _epochs_from_args(args: list[str] | None) -> int:
    for arg in args or []:
        match = re.fullmatch(r"epochs=(\d+)", str(arg))
        if match:
            return max(1, int(match.group(1)))
    return 1


def runtime_framework(runtime: dict) -> str:
    return (runtime.get("metadata", {}).get("labels") or {}).get(FRAMEWORK_LABEL, "")


def plan_trainjob(job: dict, runtime: dict, rng: random.Random | None = None) -> JobPlan:
    """Render a TrainJob against its runtime into the pods of each stage.

    Raises PlanError when the runtime has no replicated job that can hold the trainer.
    """
    rng = rng or random.Random()
    job_name = job["metadata"]["name"]
    job_spec = job.get("spec") or {}
    trainer = job_spec.get("trainer") or {}
    initializer = job_spec.get("initializer") or {}
    runtime_spec = runtime.get("spec") or {}
    ml_policy = runtime_spec.get("mlPolicy") or {}
    replicated_jobs = runtime_spec.get("template", {}).get("spec", {}).get("replicatedJobs") or []

    num_nodes = int(trainer.get("numNodes") or ml_policy.get("numNodes") or 1)
    mpi = ml_policy.get("mpi")
    claims = _volume_claims(runtime_spec, job_name)

    plan = JobPlan(
        framework=runtime_framework(runtime),
        num_nodes=num_nodes,
        epochs=_epochs_from_args(trainer.get("args")),
    )
    initializer_pods: list[PodPlan] = []
    trainer_pods: list[PodPlan] = []

    for replicated_job in replicated_jobs:
        rjob_name = replicated_job.get("name", "")
        job_template = replicated_job.get("template") or {}
        ancestor = (job_template.get("metadata", {}).get("labels") or {}).get(ANCESTOR_LABEL)
        pod_template = job_template.get("spec", {}).get("template", {}).get("spec")
        if pod_template is None:
            raise PlanError(f"replicated job {rjob_name!r} of the runtime has no pod template")

        # Each replicated job becomes one indexed Job, and pod_count is the number of its pods.
        if rjob_name in INITIALIZER_STEPS or rjob_name == LAUNCHER:
            pod_count = 1
        elif rjob_name == NODE:
            pod_count = num_nodes
            if mpi is not None and mpi.get("runLauncherAsNode"):
                pod_count = num_nodes - 1
        else:
            pod_count = int(replicated_job.get("replicas") or 1)

        for index in range(pod_count):
            pod_spec = copy.deepcopy(pod_template)
            container_name = NODE if rjob_name in (NODE, LAUNCHER) else rjob_name
            container = _find_container(pod_spec, container_name)
            if container is None:
                raise PlanError(f"replicated job {rjob_name!r} has no container named {container_name!r}")

            if rjob_name == DATASET_INITIALIZER:
                _apply_initializer_overrides(container, initializer.get("dataset"))
            elif rjob_name == MODEL_INITIALIZER:
                _apply_initializer_overrides(container, initializer.get("model"))
            elif rjob_name in (NODE, LAUNCHER):
                _apply_trainer_overrides(container, trainer, is_ancestor=ancestor == "trainer")
            for pod_container in pod_spec.get("containers") or []:
                pod_container["resources"] = _normalize_resources(pod_container.get("resources"))
            pod_spec.setdefault("restartPolicy", "Never")
            if claims:
                pod_spec["volumes"] = [
                    {"name": name, "persistentVolumeClaim": {"claimName": claim}} for name, claim in claims.items()
                ]

            # The SDK names MPI steps so that the launcher is node-0 and node pods follow it.
            if rjob_name == LAUNCHER:
                step = f"{NODE}-{index}"
            elif rjob_name == NODE and mpi is not None:
                step = f"{NODE}-{index + 1}"
            elif rjob_name == NODE:
                step = f"{NODE}-{index}"
            else:
                step = rjob_name

            pod = PodPlan(
                replicated_job=rjob_name,
                completion_index=index,
                step=step,
                pod_name=f"{job_name}-{rjob_name}-0-{index}-{generated_suffix(rng)}",
                container_name=container_name,
                spec=pod_spec,
            )
            if rjob_name in INITIALIZER_STEPS:
                initializer_pods.append(pod)
            else:
                trainer_pods.append(pod)

    if not trainer_pods:
        raise PlanError("the runtime has no node or launcher replicated job")
    primary = next((pod for pod in trainer_pods if pod.step == f"{NODE}-0"), trainer_pods[0])
    primary.writes_training_log = True

    if initializer_pods:
        plan.stages.append(initializer_pods)
    plan.stages.append(trainer_pods)
    return plan


def pod_labels(job_name: str, pod: PodPlan) -> dict[str, str]:
    labels = {
        JOBSET_NAME_LABEL: job_name,
        REPLICATED_JOB_LABEL: pod.replicated_job,
        "jobset.sigs.k8s.io/job-index": "0",
        "batch.kubernetes.io/job-name": f"{job_name}-{pod.replicated_job}-0",
        JOB_INDEX_LABEL: str(pod.completion_index),
    }
    ancestor = {DATASET_INITIALIZER: DATASET_INITIALIZER, MODEL_INITIALIZER: MODEL_INITIALIZER}.get(pod.replicated_job)
    labels[ANCESTOR_LABEL] = ancestor or "trainer"
    return labels


def image_id(image: str) -> str:
    """Return a container status `imageID`: the image pinned to a digest derived from its name."""
    return f"{image}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def container_env(spec: dict, container_name: str, env_name: str) -> str | None:
    container = _find_container(spec, container_name) or {}
    for entry in container.get("env") or []:
        if entry.get("name") == env_name:
            return entry.get("value")
    return None


# ----------------------------------------------------------------------------------------------
# Log lines


def training_log_lines(plan: JobPlan, failing: bool) -> list[str]:
    """Return the log of the node-0 pod, in the style of torchtune's recipes."""
    total_steps = min(MAX_TRAINING_STEPS, STEPS_PER_EPOCH * plan.epochs)
    if plan.framework == "torchtune":
        lines = [
            "INFO:torchtune.utils._logging:Running FullFinetuneRecipeDistributed with resolved config",
            "INFO:torchtune.utils._logging:Model is initialized with precision torch.bfloat16.",
            "INFO:torchtune.utils._logging:Dataset and Sampler are initialized.",
        ]
    else:
        lines = [f"Starting {plan.framework or 'custom'} training on {plan.num_nodes} node(s)"]

    last_step = total_steps // 2 if failing else total_steps
    loss = 2.31
    for step in range(1, last_step + 1):
        lines.append(f"Step {step}/{total_steps} | loss: {loss:.2f} | lr: 2e-05")
        loss *= 0.9

    if failing:
        lines.append(
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. "
            "GPU 0 has a total capacity of 79.25 GiB of which 1.19 GiB is free."
        )
        lines.append("torch.distributed.elastic.multiprocessing.errors.ChildFailedError: training FAILED")
        return lines

    if plan.framework == "torchtune":
        lines.append("INFO:torchtune.utils._logging:Saving checkpoint to /workspace/output")
    lines.append("Training complete")
    return lines


def initializer_log_lines(step: str, storage_uri: str | None) -> list[str]:
    artifact = "dataset" if step == DATASET_INITIALIZER else "model"
    target = f"/workspace/{artifact}"
    return [
        f"Downloading {artifact} {storage_uri or '<unset>'} to {target}",
        f"Downloaded {artifact} to {target}",
    ]


def worker_log_lines(step: str) -> list[str]:
    return [f"{step}: joined the rendezvous", f"{step}: finished"]


# ----------------------------------------------------------------------------------------------
# Quantities


_BINARY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_SUFFIXES = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
                     "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
                     "P": Decimal("1e15"), "E": Decimal("1e18")}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$")


def parse_quantity(quantity: object) -> Decimal:
    """Parse a Kubernetes resource quantity ("500m", "8Gi", 2) into a Decimal.

    Written here rather than imported from `kubernetes.utils`, so that the emulator does not
    import the kubernetes client and starts fast.
    """
    if isinstance(quantity, (int, float)):
        return Decimal(str(quantity))
    match = _QUANTITY.match(str(quantity).strip())
    if not match:
        raise ValueError(f"invalid quantity {quantity!r}")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:
        raise ValueError(f"invalid quantity {quantity!r}") from None
    suffix = match.group(2)
    if suffix in _BINARY_SUFFIXES:
        return number * _BINARY_SUFFIXES[suffix]
    return number * _DECIMAL_SUFFIXES[suffix]


def pod_resource_totals(pod: dict, field_name: str = "requests") -> dict[str, Decimal]:
    """Sum a pod's container `requests` (or `limits`) per resource name."""
    totals: dict[str, Decimal] = {}
    for container in pod.get("spec", {}).get("containers") or []:
        for key, value in ((container.get("resources") or {}).get(field_name) or {}).items():
            totals[key] = totals.get(key, Decimal(0)) + parse_quantity(value)
    return totals


def format_quantity(value: Decimal) -> str:
    """Format a quantity the short way: whole numbers plainly, memory in Gi or Mi when exact."""
    if value == value.to_integral_value():
        number = int(value)
        for suffix, factor in (("Gi", 1 << 30), ("Mi", 1 << 20)):
            if number and number % factor == 0:
                return f"{number // factor}{suffix}"
        return str(number)
    return f"{int(value * 1000)}m"
