"""The controller thread that moves TrainJobs through their lifecycle, one step per tick.

A TrainJob goes Created -> initializer pods (torchtune runtimes only) Pending -> Running ->
Succeeded -> trainer pods Pending -> Running (printing their log a few lines per tick) ->
Succeeded or Failed, and then gets a `Complete` or `Failed` condition. Until then it has no
conditions at all, because the Kubeflow SDK reports Running only for a TrainJob without
conditions whose node pods all run.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from tests.emulator import jobs
from tests.emulator.store import Store, utc_now

logger = logging.getLogger(__name__)

DEFAULT_TICK_SECONDS = 0.05
GPU = "nvidia.com/gpu"


@dataclass
class PodRun:
    plan: jobs.PodPlan
    lines: list[str]
    written: int = 0


@dataclass
class JobRun:
    """Controller state of one TrainJob. `state` is new, blocked, pending, running or finished."""

    namespace: str
    name: str
    uid: str
    plan: jobs.JobPlan | None = None
    stage: int = -1
    state: str = "new"
    pods: list[PodRun] = field(default_factory=list)
    warnings_sent: set[str] = field(default_factory=set)

    @property
    def in_trainer_stage(self) -> bool:
        return self.plan is not None and self.stage == len(self.plan.stages) - 1


class Controller:
    """Reconciles every TrainJob of a store once per tick on a background thread."""

    def __init__(self, store: Store, tick: float = DEFAULT_TICK_SECONDS) -> None:
        self.store = store
        self.tick = tick
        self.runs: dict[tuple[str, str], JobRun] = {}
        self._rng = random.Random()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_event_ns = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="emulator-controller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            if self.store.paused:
                continue
            try:
                self.advance()
            except Exception:
                # A bug here must not kill the thread silently: log it and keep ticking.
                logger.exception("emulator controller failed to reconcile")

    def advance(self, ticks: int = 1) -> None:
        """Run `ticks` reconcile passes now, even while the store is paused."""
        for _ in range(ticks):
            with self.store.lock:
                for namespace, name in self.store.drain_new_trainjobs():
                    job = self.store.find("trainjobs", namespace, name)
                    if job is not None:
                        self.runs[(namespace, name)] = JobRun(namespace, name, job["metadata"]["uid"])
                for key, run in list(self.runs.items()):
                    job = self.store.find("trainjobs", run.namespace, run.name)
                    if job is None or job["metadata"]["uid"] != run.uid:
                        del self.runs[key]
                        continue
                    self._reconcile(run, job)
                    if run.state == "finished":
                        del self.runs[key]

    # ------------------------------------------------------------------------------------------
    # One TrainJob

    def _reconcile(self, run: JobRun, job: dict) -> None:
        hold = self.store.hold_phase(run.namespace, run.name)
        if run.state == "new":
            self._start(run, job, hold)
        elif run.state == "blocked":
            self._start_stage(run, job)
        elif run.state == "pending":
            if hold == "Pending" and run.in_trainer_stage:
                return
            self._run_pods(run, job)
        elif run.state == "running":
            self._write_logs(run)
            if any(pod.written < len(pod.lines) for pod in run.pods):
                return
            if hold in ("Pending", "Running") and run.in_trainer_stage:
                return
            self._finish_stage(run, job)

    def _start(self, run: JobRun, job: dict, hold: str | None) -> None:
        # NOTE: only a job that has not started yet honours spec.suspend. Suspending a running
        # job later has no effect here, unlike in Trainer.
        status = job.setdefault("status", {})
        if job.get("spec", {}).get("suspend"):
            if not _has_condition(status, "Suspended", "True"):
                _set_condition(status, "Suspended", "True", "Suspended", "TrainJob is suspended")
                self.store.touch("trainjobs", job)
            return
        if hold == "Created":
            return

        runtime = self.store.resolve_runtime(job)
        if runtime is None:
            self._event(run.namespace, "TrainJob", run.name, job, "Warning", "TrainJobResourcesCreationFailed",
                        f"runtime {job['spec']['runtimeRef'].get('name')!r} not found", "trainjob-controller",
                        once_key=run)
            return
        try:
            run.plan = jobs.plan_trainjob(job, runtime, self._rng)
        except jobs.PlanError as error:
            self._fail_job(run, job, "InvalidRuntime", f"TrainJob failed: {error}")
            return

        if _has_condition(status, "Suspended", "True"):
            # Trainer keeps the condition with status False, which hides Running from the SDK.
            _set_condition(status, "Suspended", "False", "Resumed", "TrainJob is resumed")
            self.store.touch("trainjobs", job)
        run.stage = 0
        self._start_stage(run, job)

    def _start_stage(self, run: JobRun, job: dict) -> None:
        assert run.plan is not None
        stage = run.plan.stages[run.stage]
        pods = [self._build_pod(run, job, plan) for plan in stage]

        exceeded = self._quota_exceeded(run.namespace, pods)
        if exceeded:
            quota_name, message = exceeded
            self._event(run.namespace, "Job", f"{run.name}-{stage[0].replicated_job}-0", None, "Warning",
                        "FailedCreate", f'Error creating: pods "{pods[0]["metadata"]["name"]}" is forbidden: '
                        f"exceeded quota: {quota_name}, {message}", "job-controller", once_key=run)
            run.state = "blocked"
            return

        run.pods = []
        for plan, pod in zip(stage, pods):
            self.store.put("pods", pod)
            self._event(run.namespace, "Job", f"{run.name}-{plan.replicated_job}-0", None, "Normal",
                        "SuccessfulCreate", f"Created pod: {plan.pod_name}", "job-controller")
            run.pods.append(PodRun(plan, self._log_lines(run, job, plan)))
        self._schedule(run)
        run.state = "pending"
        self._update_jobs_status(run, job)

    def _build_pod(self, run: JobRun, job: dict, plan: jobs.PodPlan) -> dict:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": plan.pod_name,
                "namespace": run.namespace,
                "labels": jobs.pod_labels(run.name, plan),
                "ownerReferences": [
                    {"apiVersion": "batch/v1", "kind": "Job", "name": f"{run.name}-{plan.replicated_job}-0",
                     "uid": str(uuid.uuid4()), "controller": True}
                ],
            },
            "spec": plan.spec,
            "status": {
                "phase": "Pending",
                "conditions": [{"type": "PodScheduled", "status": "False", "lastTransitionTime": utc_now()}],
            },
        }

    def _log_lines(self, run: JobRun, job: dict, plan: jobs.PodPlan) -> list[str]:
        scripted = self.store.scripted_log(run.name, plan.step)
        if scripted is not None:
            return scripted
        if plan.writes_training_log:
            assert run.plan is not None
            return jobs.training_log_lines(run.plan, self.store.is_failing(run.name))
        if plan.replicated_job in jobs.INITIALIZER_STEPS:
            storage_uri = jobs.container_env(plan.spec, plan.container_name, "STORAGE_URI")
            return jobs.initializer_log_lines(plan.replicated_job, storage_uri)
        return jobs.worker_log_lines(plan.step)

    def _schedule(self, run: JobRun) -> bool:
        """Bind every unbound pod of the run to a node with room, and return True when all are bound."""
        nodes = self.store.list("nodes").items
        gpus_in_use = self._gpus_in_use()
        all_bound = True
        for pod_run in run.pods:
            pod = self.store.find("pods", run.namespace, pod_run.plan.pod_name)
            if pod is None or pod["spec"].get("nodeName"):
                continue
            requests = jobs.pod_resource_totals(pod)
            gpus = requests.get(GPU, Decimal(0))
            node = _pick_node(nodes, requests, gpus_in_use)
            if node is None:
                all_bound = False
                message = f"0/{len(nodes)} nodes are available: {len(nodes)} Insufficient {GPU if gpus else 'cpu'}."
                pod["status"]["conditions"] = [{
                    "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": message, "lastTransitionTime": utc_now(),
                }]
                self.store.touch("pods", pod)
                self._event(run.namespace, "Pod", pod_run.plan.pod_name, pod, "Warning", "FailedScheduling",
                            message, "default-scheduler", once_key=run)
                continue
            node_name = node["metadata"]["name"]
            gpus_in_use[node_name] = gpus_in_use.get(node_name, Decimal(0)) + gpus
            pod["spec"] = dict(pod["spec"], nodeName=node_name)
            pod["status"] = {
                "phase": "Pending",
                "hostIP": _host_ip(node_name),
                "startTime": utc_now(),
                "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": utc_now()}],
                "containerStatuses": [
                    {"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False, "restartCount": 0,
                     "started": False, "state": {"waiting": {"reason": "ContainerCreating"}}}
                    for c in pod["spec"].get("containers", [])
                ],
            }
            self.store.touch("pods", pod)
            self._event(run.namespace, "Pod", pod_run.plan.pod_name, pod, "Normal", "Scheduled",
                        f"Successfully assigned {run.namespace}/{pod_run.plan.pod_name} to {node_name}",
                        "default-scheduler")
        return all_bound

    def _gpus_in_use(self) -> dict[str, Decimal]:
        """GPUs requested per node by the pods of jobs this controller is running."""
        in_use: dict[str, Decimal] = {}
        for run in self.runs.values():
            for pod_run in run.pods:
                pod = self.store.find("pods", run.namespace, pod_run.plan.pod_name)
                if pod is None or pod["status"].get("phase") in ("Succeeded", "Failed"):
                    continue
                node_name = pod["spec"].get("nodeName")
                if node_name:
                    gpus = jobs.pod_resource_totals(pod).get(GPU, Decimal(0))
                    in_use[node_name] = in_use.get(node_name, Decimal(0)) + gpus
        return in_use

    def _run_pods(self, run: JobRun, job: dict) -> None:
        if not self._schedule(run):
            return
        now = utc_now()
        for pod_run in run.pods:
            pod = self.store.get("pods", run.namespace, pod_run.plan.pod_name)
            pod["status"]["phase"] = "Running"
            pod["status"]["podIP"] = _pod_ip(self._rng)
            pod["status"]["conditions"] = [
                {"type": kind, "status": "True", "lastTransitionTime": now}
                for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            ]
            for status in pod["status"].get("containerStatuses", []):
                status.update(ready=True, started=True, imageID=jobs.image_id(status["image"]),
                              state={"running": {"startedAt": now}})
            self.store.touch("pods", pod)
            for container in pod["spec"].get("containers", []):
                self._event(run.namespace, "Pod", pod_run.plan.pod_name, pod, "Normal", "Pulled",
                            f'Container image "{container.get("image", "")}" already present on machine',
                            "kubelet")
                self._event(run.namespace, "Pod", pod_run.plan.pod_name, pod, "Normal", "Created",
                            f"Created container: {container['name']}", "kubelet")
                self._event(run.namespace, "Pod", pod_run.plan.pod_name, pod, "Normal", "Started",
                            f"Started container {container['name']}", "kubelet")
            self.store.container_log(run.namespace, pod_run.plan.pod_name, pod_run.plan.container_name, create=True)
        run.state = "running"
        self._update_jobs_status(run, job)

    def _write_logs(self, run: JobRun) -> None:
        per_tick = max(1, self.store.log_lines_per_tick)
        for pod_run in run.pods:
            if pod_run.written >= len(pod_run.lines):
                continue
            chunk = pod_run.lines[pod_run.written:pod_run.written + per_tick]
            pod_run.written += len(chunk)
            self.store.append_log(run.namespace, pod_run.plan.pod_name, pod_run.plan.container_name, chunk)

    def _finish_stage(self, run: JobRun, job: dict) -> None:
        assert run.plan is not None
        failing = run.in_trainer_stage and self.store.is_failing(run.name)
        now = utc_now()
        failed_step = None
        for pod_run in run.pods:
            pod = self.store.get("pods", run.namespace, pod_run.plan.pod_name)
            if failing:
                exit_code = 1 if pod_run.plan.writes_training_log else 143
                if pod_run.plan.writes_training_log:
                    failed_step = pod_run.plan.step
            else:
                exit_code = 0
            pod["status"]["phase"] = "Succeeded" if exit_code == 0 else "Failed"
            pod["status"]["conditions"] = [
                {"type": kind, "status": "True" if kind in ("PodScheduled", "Initialized") else "False",
                 "lastTransitionTime": now}
                for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            ]
            for status in pod["status"].get("containerStatuses", []):
                started_at = status.get("state", {}).get("running", {}).get("startedAt", now)
                status.update(ready=False, started=False, state={"terminated": {
                    "exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
                    "startedAt": started_at, "finishedAt": now,
                }})
            self.store.touch("pods", pod)
            self.store.end_log(run.namespace, pod_run.plan.pod_name, pod_run.plan.container_name)

        for replicated_job in sorted({pod_run.plan.replicated_job for pod_run in run.pods}):
            job_name = f"{run.name}-{replicated_job}-0"
            if failing:
                self._event(run.namespace, "Job", job_name, None, "Warning", "BackoffLimitExceeded",
                            "Job has reached the specified backoff limit", "job-controller")
            else:
                self._event(run.namespace, "Job", job_name, None, "Normal", "Completed", "Job completed",
                            "job-controller")

        if failing:
            self._fail_job(run, job, "FailedJobs", f"TrainJob failed: {failed_step or 'node-0'} exited with code 1")
            return
        if run.in_trainer_stage:
            self._complete_job(run, job)
            return
        run.stage += 1
        self._start_stage(run, job)

    def _complete_job(self, run: JobRun, job: dict) -> None:
        status = job.setdefault("status", {})
        _set_condition(status, "Complete", "True", "AllJobsCompleted", "jobset completed successfully")
        self._update_jobs_status(run, job)
        self._event(run.namespace, "JobSet", run.name, None, "Normal", "AllJobsCompleted",
                    "jobset completed successfully", "jobset-controller")
        run.state = "finished"

    def _fail_job(self, run: JobRun, job: dict, reason: str, message: str) -> None:
        status = job.setdefault("status", {})
        _set_condition(status, "Failed", "True", reason, message)
        self._update_jobs_status(run, job)
        self._event(run.namespace, "JobSet", run.name, None, "Warning", "FailedJobs", message, "jobset-controller")
        run.state = "finished"

    def _update_jobs_status(self, run: JobRun, job: dict) -> None:
        if run.plan is None:
            return
        counts: dict[str, dict[str, int]] = {}
        for stage in run.plan.stages:
            for plan in stage:
                counts.setdefault(plan.replicated_job, {"active": 0, "ready": 0, "succeeded": 0, "failed": 0, "suspended": 0})
        for pod in self.store.pods_of(run.name, run.namespace):
            replicated_job = pod["metadata"]["labels"].get(jobs.REPLICATED_JOB_LABEL)
            if replicated_job not in counts:
                continue
            phase = pod["status"].get("phase")
            entry = counts[replicated_job]
            if phase in ("Pending", "Running"):
                entry["active"] = 1
            if phase == "Running":
                entry["ready"] = 1
            if phase == "Failed":
                entry["failed"] = 1
            if phase == "Succeeded" and not entry["active"] and not entry["failed"]:
                entry["succeeded"] = 1
        job.setdefault("status", {})["jobsStatus"] = [{"name": name, **entry} for name, entry in counts.items()]
        self.store.touch("trainjobs", job)

    # ------------------------------------------------------------------------------------------
    # Quotas, events

    def _quota_exceeded(self, namespace: str, pods: list[dict]) -> tuple[str, str] | None:
        """Return (quota name, message) when creating `pods` would exceed a ResourceQuota."""
        requested: dict[str, Decimal] = {"pods": Decimal(len(pods))}
        for pod in pods:
            for field_name, prefix in (("requests", "requests."), ("limits", "limits.")):
                for resource, amount in jobs.pod_resource_totals(pod, field_name).items():
                    requested[prefix + resource] = requested.get(prefix + resource, Decimal(0)) + amount
                    if field_name == "requests" and resource in ("cpu", "memory"):
                        requested[resource] = requested.get(resource, Decimal(0)) + amount

        for quota in self.store.list("resourcequotas", namespace).items:
            name = quota["metadata"]["name"]
            usage = self.store.quota_usage(namespace, name)
            for key, limit in quota["spec"].get("hard", {}).items():
                amount = requested.get(key)
                if not amount:
                    continue
                used = usage.get(key, Decimal(0))
                if used + amount > jobs.parse_quantity(limit):
                    return name, (
                        f"requested: {key}={jobs.format_quantity(amount)}, "
                        f"used: {key}={jobs.format_quantity(used)}, limited: {key}={limit}"
                    )
        return None

    def _event_clock(self) -> int:
        self._last_event_ns = max(time.time_ns(), self._last_event_ns + 1)
        return self._last_event_ns

    def _event(self, namespace: str, kind: str, name: str, obj: dict | None, event_type: str, reason: str,
               message: str, component: str, once_key: JobRun | None = None) -> None:
        """Record an Event; with `once_key`, only the first event of that reason and object counts."""
        if once_key is not None:
            marker = f"{kind}/{name}/{reason}"
            if marker in once_key.warnings_sent:
                return
            once_key.warnings_sent.add(marker)
        now = utc_now()
        api_version = {"Pod": "v1", "Job": "batch/v1", "JobSet": "jobset.x-k8s.io/v1alpha2"}.get(
            kind, f"{jobs.TRAINER_GROUP}/v1alpha1")
        involved = {"kind": kind, "name": name, "namespace": namespace, "apiVersion": api_version}
        if obj is not None:
            involved["uid"] = obj["metadata"].get("uid", "")
        self.store.put("events", {
            # Like the kubelet and controllers, name events after the object and the time in
            # nanoseconds, so that listing in name order lists one object's events in time order.
            "metadata": {"name": f"{name}.{self._event_clock():x}", "namespace": namespace},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": event_type,
            "source": {"component": component},
            "reportingComponent": component,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        })


def _has_condition(status: dict, condition_type: str, value: str) -> bool:
    return any(c.get("type") == condition_type and c.get("status") == value for c in status.get("conditions") or [])


def _set_condition(status: dict, condition_type: str, value: str, reason: str, message: str) -> None:
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != condition_type]
    conditions.append({
        "type": condition_type, "status": value, "reason": reason, "message": message,
        "lastTransitionTime": utc_now(),
    })
    status["conditions"] = conditions


def _pick_node(nodes: list[dict], requests: dict[str, Decimal], gpus_in_use: dict[str, Decimal]) -> dict | None:
    """Pick the first node with enough free GPUs. Pods without GPUs prefer nodes without GPUs."""
    gpus = requests.get(GPU, Decimal(0))
    candidates = []
    for node in nodes:
        allocatable = node.get("status", {}).get("allocatable", {})
        node_gpus = jobs.parse_quantity(allocatable.get(GPU, "0"))
        free = node_gpus - gpus_in_use.get(node["metadata"]["name"], Decimal(0))
        if gpus and free < gpus:
            continue
        for resource in ("cpu", "memory"):
            if resource in requests and resource in allocatable and requests[resource] > jobs.parse_quantity(allocatable[resource]):
                break
        else:
            candidates.append((bool(node_gpus) != bool(gpus), node))
    if not candidates:
        return None
    candidates.sort(key=lambda pair: pair[0])
    return candidates[0][1]


def _host_ip(node_name: str) -> str:
    return f"10.0.0.{sum(node_name.encode()) % 250 + 2}"


def _pod_ip(rng: random.Random) -> str:
    return f"10.244.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
