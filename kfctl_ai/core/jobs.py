"""TrainJobs: list, describe, wait for and delete them.

Status follows the Kubeflow SDK's rule, so kfai and the SDK agree. A condition `Complete`
or `Failed` with status "True" sets that status. With no conditions at all, a job whose
node pods all run or have succeeded is `Running`. Every other job is `Created`.

Listing makes one paginated TrainJob list and one paginated list of the namespace's node
pods, where the SDK's `list_jobs()` makes a runtime lookup and a pod list per job.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from kfctl_ai.core.errors import JobFailedError, TimedOutError, UsageError
from kfctl_ai.core.gc_pause import cyclic_gc_paused
from kfctl_ai.core.names import validate_trainjob_name
from kfctl_ai.core.trainjob import MANAGED_BY_LABEL, MANAGED_BY_VALUE

JOBSET_NAME_LABEL = "jobset.sigs.k8s.io/jobset-name"
STEP_LABEL = "jobset.sigs.k8s.io/replicatedjob-name"
INDEX_LABEL = "batch.kubernetes.io/job-completion-index"
STATUSES = ("Created", "Running", "Complete", "Failed")
# The status of a job depends only on its node pods; `jobs show` reads every step.
NODE_PODS_SELECTOR = f"{STEP_LABEL} in (node,launcher)"


@dataclass
class Step:
    name: str
    pod: str
    phase: str
    gpus: int = 0


@dataclass
class JobSummary:
    name: str
    namespace: str
    status: str
    runtime: str
    created: str
    model: str | None = None
    dataset: str | None = None
    num_nodes: int | None = None
    managed_by_kfai: bool = False
    message: str | None = None
    steps: list[Step] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        # The same dict as `dataclasses.asdict`, built from the field names, because asdict
        # deep-copies every value and is several times slower on thousands of summaries.
        data = {name: getattr(self, name) for name in _SUMMARY_FIELDS}
        data["steps"] = [{name: getattr(step, name) for name in _STEP_FIELDS} for step in self.steps]
        return data


_SUMMARY_FIELDS = tuple(f.name for f in fields(JobSummary))
_STEP_FIELDS = tuple(f.name for f in fields(Step))


def step_name(pod: dict[str, Any]) -> str | None:
    """Name a pod's step as the SDK does: `node-0`, `launcher-0`, `dataset-initializer`."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    role = labels.get(STEP_LABEL)
    if role in {"node", "launcher"}:
        return f"{role}-{labels.get(INDEX_LABEL, '0')}"
    return role


def _pod_gpus(pod: dict[str, Any]) -> int:
    total = 0
    for container in (pod.get("spec") or {}).get("containers") or []:
        limits = (container.get("resources") or {}).get("limits") or {}
        total += int(str(limits.get("nvidia.com/gpu", 0)) or 0)
    return total


def steps_of(pods: Iterable[dict[str, Any]]) -> list[Step]:
    """Build one step per role and index from the newest pod of each, as the SDK does."""
    newest: dict[str, dict[str, Any]] = {}
    for pod in pods:
        name = step_name(pod)
        if name is None:
            continue
        created = (pod.get("metadata") or {}).get("creationTimestamp") or ""
        current = newest.get(name)
        if current is None or created >= ((current.get("metadata") or {}).get("creationTimestamp") or ""):
            newest[name] = pod
    order = {"dataset-initializer": 0, "model-initializer": 1, "launcher": 2, "node": 3}
    steps = [
        Step(name=name, pod=pod["metadata"]["name"], phase=(pod.get("status") or {}).get("phase", "Unknown"), gpus=_pod_gpus(pod))
        for name, pod in newest.items()
    ]
    return sorted(steps, key=lambda s: (order.get(s.name.rsplit("-", 1)[0] if s.name[-1].isdigit() else s.name, 9), s.name))


def job_status(job: dict[str, Any], steps: list[Step]) -> tuple[str, str | None]:
    """Derive the status (and the message of a terminal condition) the way the SDK does."""
    conditions = (job.get("status") or {}).get("conditions") or []
    for condition in conditions:
        if condition.get("type") in {"Complete", "Failed"} and condition.get("status") == "True":
            return condition["type"], condition.get("message")
    if not conditions:
        nodes = [s for s in steps if s.name.startswith("node")]
        expected = ((job.get("spec") or {}).get("trainer") or {}).get("numNodes") or len(nodes) or 1
        running = sum(1 for s in nodes if s.phase in {"Running", "Succeeded"})
        if nodes and running >= expected:
            return "Running", None
    return "Created", None


def summarize(job: dict[str, Any], pods: Iterable[dict[str, Any]]) -> JobSummary:
    metadata = job.get("metadata") or {}
    spec = job.get("spec") or {}
    labels = metadata.get("labels") or {}
    initializer = spec.get("initializer") or {}
    steps = steps_of(pods)
    status, message = job_status(job, steps)
    return JobSummary(
        name=metadata.get("name", ""),
        namespace=metadata.get("namespace", ""),
        status=status,
        runtime=(spec.get("runtimeRef") or {}).get("name", ""),
        created=metadata.get("creationTimestamp", ""),
        model=((initializer.get("model") or {}).get("storageUri")),
        dataset=((initializer.get("dataset") or {}).get("storageUri")),
        num_nodes=(spec.get("trainer") or {}).get("numNodes"),
        managed_by_kfai=labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE,
        message=message,
        steps=steps,
    )


def list_jobs(cluster: Any, status: str | None = None) -> list[JobSummary]:
    """List TrainJobs with their steps in two paginated requests, newest first."""
    if status is not None and status not in STATUSES:
        raise UsageError(f"invalid status '{status}'", hint=f"use one of: {', '.join(STATUSES)}")

    # Pods come first, reduced to what a step needs. Each page of TrainJobs is then
    # summarized as it arrives, so no full TrainJob object outlives its page.
    with cyclic_gc_paused():
        pods_by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for pod in cluster.list_pods(label_selector=NODE_PODS_SELECTOR):
            owner = ((pod.get("metadata") or {}).get("labels") or {}).get(JOBSET_NAME_LABEL)
            if owner:
                pods_by_job[owner].append(_slim_pod(pod))

        summaries = [summarize(job, pods_by_job.get(job["metadata"]["name"], [])) for job in cluster.list_trainjobs()]
    if status:
        summaries = [s for s in summaries if s.status == status]
    return sorted(summaries, key=lambda s: s.created, reverse=True)


def _slim_pod(pod: dict[str, Any]) -> dict[str, Any]:
    """Keep only what a step needs, so a page of pods can be dropped once read."""
    metadata = pod.get("metadata") or {}
    return {
        "metadata": {"name": metadata.get("name"), "labels": metadata.get("labels"), "creationTimestamp": metadata.get("creationTimestamp")},
        "spec": {"containers": [{"resources": c.get("resources")} for c in (pod.get("spec") or {}).get("containers") or []]},
        "status": {"phase": (pod.get("status") or {}).get("phase")},
    }


def job_pods(cluster: Any, name: str) -> list[dict[str, Any]]:
    return list(cluster.list_pods(label_selector=f"{JOBSET_NAME_LABEL}={name}"))


def get_job(cluster: Any, name: str) -> JobSummary:
    validate_trainjob_name(name)
    job = cluster.get_trainjob(name)
    return summarize(job, job_pods(cluster, name))


def job_events(cluster: Any, summary: JobSummary) -> list[dict[str, Any]]:
    """Events of the TrainJob and of its pods, oldest first."""
    names = {summary.name} | {step.pod for step in summary.steps}
    events = []
    for event in cluster.list_events():
        involved = event.get("involvedObject") or {}
        if involved.get("name") in names:
            events.append(
                {
                    "time": event.get("firstTimestamp") or event.get("eventTime") or "",
                    "object": f"{involved.get('kind', '')}/{involved.get('name', '')}",
                    "type": event.get("type", ""),
                    "reason": event.get("reason", ""),
                    "message": event.get("message", ""),
                }
            )
    return sorted(events, key=lambda e: e["time"])


def wait_for_job(
    cluster: Any,
    name: str,
    timeout: float,
    poll_interval: float = 2.0,
    on_status: Callable[[JobSummary], None] | None = None,
) -> JobSummary:
    """Poll until the job is Complete (returned) or Failed (`JobFailedError`)."""
    validate_trainjob_name(name)
    deadline = time.monotonic() + timeout
    last_status = None
    while True:
        summary = get_job(cluster, name)
        if on_status and summary.status != last_status:
            on_status(summary)
            last_status = summary.status
        if summary.status == "Complete":
            return summary
        if summary.status == "Failed":
            raise JobFailedError(
                f"TrainJob '{name}' failed: {summary.message or 'no message in its Failed condition'}",
                hint=f"read its logs with `kfai logs {name}` and its events with `kfai jobs show {name}`",
                job=name,
            )
        if time.monotonic() >= deadline:
            raise TimedOutError(
                f"timed out after {timeout:g} s waiting for TrainJob '{name}' (status {summary.status})",
                hint=f"wait longer with `kfai jobs wait {name} --timeout SECONDS`",
            )
        time.sleep(min(poll_interval, max(0.0, deadline - time.monotonic())))


def delete_job(cluster: Any, name: str) -> None:
    """Delete one TrainJob, after checking its name so that no DELETE reaches the collection path."""
    validate_trainjob_name(name)
    cluster.delete_trainjob(name)
