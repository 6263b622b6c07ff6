"""Objects the emulated cluster starts with, and a fast bulk loader of finished TrainJobs."""

from __future__ import annotations

import base64
import copy
import functools
import random
from datetime import datetime, timedelta, timezone
from importlib import resources

import yaml

from tests.emulator import jobs
from tests.emulator.store import TRAINER_CONFIG_MAP, TRAINER_SYSTEM_NAMESPACE, Store

DEFAULT_NAMESPACES = ("default", TRAINER_SYSTEM_NAMESPACE, "team-a")
TRAINER_VERSION = "2.3.0"
TEAM_QUOTA_NAMESPACE = "team-a"
TEAM_QUOTA_NAME = "team-a-quota"
TEAM_QUOTA_HARD = {"requests.nvidia.com/gpu": "4", "pods": "20"}
HF_TOKEN_SECRET = "hf-token"

# name, GPU product as GPU feature discovery labels it, GPU memory in MiB, GPU count, CPUs, memory
DEFAULT_NODES = (
    ("gpu-a100-1", "NVIDIA-A100-SXM4-80GB", 81920, 8, 96, "1024Gi"),
    ("gpu-a100-2", "NVIDIA-A100-SXM4-80GB", 81920, 8, 96, "1024Gi"),
    ("gpu-l4-1", "NVIDIA-L4", 23034, 4, 48, "192Gi"),
    ("cpu-1", None, 0, 0, 32, "128Gi"),
)


@functools.cache
def _parsed_upstream_runtimes() -> tuple[dict, ...]:
    text = resources.files("kfctl_ai.core.data").joinpath("upstream_runtimes.yaml").read_text()
    return tuple(document for document in yaml.safe_load_all(text) if document)


def upstream_runtimes() -> list[dict]:
    """Return fresh copies of the ClusterTrainingRuntimes that Kubeflow Trainer v2.3.0 installs."""
    return copy.deepcopy(list(_parsed_upstream_runtimes()))


def make_node(name: str, gpu_product: str | None, gpu_memory_mib: int, gpu_count: int, cpus: int, memory: str) -> dict:
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
    }
    capacity = {"cpu": str(cpus), "memory": memory, "pods": "110", "ephemeral-storage": "500Gi"}
    if gpu_product:
        labels.update({
            "nvidia.com/gpu.present": "true",
            "nvidia.com/gpu.product": gpu_product,
            "nvidia.com/gpu.memory": str(gpu_memory_mib),
            "nvidia.com/gpu.count": str(gpu_count),
        })
        capacity["nvidia.com/gpu"] = str(gpu_count)
    # The kubelet reserves some CPU and memory for the system, so allocatable is below capacity.
    allocatable = dict(capacity, cpu=f"{cpus * 1000 - 500}m")
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {},
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status"}],
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": f"boot-{name}",
                "containerRuntimeVersion": "containerd://2.0.5",
                "kernelVersion": "6.8.0-1024-gcp",
                "kubeProxyVersion": "v1.33.1",
                "kubeletVersion": "v1.33.1",
                "machineID": f"machine-{name}",
                "operatingSystem": "linux",
                "osImage": "Ubuntu 24.04.2 LTS",
                "systemUUID": f"system-{name}",
            },
        },
    }


def seed_defaults(store: Store) -> None:
    """Fill a store with the cluster most tests expect: Trainer v2.3.0 with GPU nodes.

    The store gets the namespaces `default`, `kubeflow-system` and `team-a`, the eight upstream
    runtimes and the `kubeflow-trainer-public` ConfigMap. It gets two 8 x A100 80GB nodes, one
    4 x L4 node and one CPU node. `team-a` gets a ResourceQuota of 4 GPUs and 20 pods, and
    `default` and `team-a` each get an `hf-token` Secret.
    """
    with store.lock:
        for namespace in DEFAULT_NAMESPACES:
            store.put("namespaces", {
                "metadata": {"name": namespace, "labels": {"kubernetes.io/metadata.name": namespace}},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            })
        store.put("configmaps", {
            "metadata": {"name": TRAINER_CONFIG_MAP, "namespace": TRAINER_SYSTEM_NAMESPACE},
            "data": {"kubeflow_trainer_version": TRAINER_VERSION},
        })
        for runtime in upstream_runtimes():
            store.put("clustertrainingruntimes", runtime)
        for node in DEFAULT_NODES:
            store.put("nodes", make_node(*node))
        store.add_resource_quota(TEAM_QUOTA_NAMESPACE, TEAM_QUOTA_NAME, TEAM_QUOTA_HARD)
        for namespace in ("default", TEAM_QUOTA_NAMESPACE):
            store.put("secrets", {
                "metadata": {"name": HF_TOKEN_SECRET, "namespace": namespace},
                "type": "Opaque",
                "data": {"HF_TOKEN": base64.b64encode(b"hf_emulator_dummy_token").decode()},
            })


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _terminated_status(container: str, image: str, exit_code: int, started: str, finished: str) -> dict:
    return {
        "name": container, "image": image, "imageID": jobs.image_id(image), "ready": False, "restartCount": 0,
        "started": False,
        "state": {"terminated": {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
                                 "startedAt": started, "finishedAt": finished}},
    }


def _running_status(container: str, image: str, started: str) -> dict:
    return {"name": container, "image": image, "imageID": jobs.image_id(image), "ready": True, "restartCount": 0,
            "started": True,
            "state": {"running": {"startedAt": started}}}


SEED_PHASES = ("Complete", "Failed", "Running", "Created")


def seed_trainjobs(
    store: Store,
    count: int,
    namespace: str = "default",
    runtime: str = "torchtune-llama3.2-1b",
    phase: str = "Complete",
    name_prefix: str = "seeded",
    labels: dict[str, str] | None = None,
) -> list[str]:
    """Add `count` TrainJobs with their pods straight into the store, bypassing the controller.

    `phase` is Complete, Failed, Running, Created or `mixed` (cycling through those four).
    Seeded jobs never change afterwards, their pods have empty logs, and their GPUs do not count
    against node capacity. All pods of one step share the containers of one template, which is
    safe because nothing writes to a pod spec after creation. Returns the job names in order.
    """
    if phase != "mixed" and phase not in SEED_PHASES:
        raise ValueError(f"invalid seed phase {phase!r}: expected one of {', '.join(SEED_PHASES)} or mixed")
    runtime_obj = store.get("clustertrainingruntimes", None, runtime)
    rng = random.Random(count)
    template_job = {
        "metadata": {"name": "template"},
        "spec": {"runtimeRef": {"name": runtime, "kind": "ClusterTrainingRuntime", "apiGroup": jobs.TRAINER_GROUP}},
    }
    template = jobs.plan_trainjob(template_job, runtime_obj, rng)
    template_pods = [pod for stage in template.stages for pod in stage]
    node_names = [node["metadata"]["name"] for node in store.list("nodes").items] or ["node-1"]

    start = datetime.now(timezone.utc) - timedelta(seconds=count + 60)
    names = []
    with store.lock:
        for index in range(count):
            name = f"{name_prefix}-{index:05d}"
            job_phase = SEED_PHASES[index % len(SEED_PHASES)] if phase == "mixed" else phase
            created = _timestamp(start + timedelta(seconds=index))
            finished = _timestamp(start + timedelta(seconds=index + 30))
            job = {
                "apiVersion": f"{jobs.TRAINER_GROUP}/v1alpha1",
                "kind": "TrainJob",
                "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created,
                             "generation": 1, "labels": dict(labels or {})},
                "spec": {"runtimeRef": dict(template_job["spec"]["runtimeRef"])},
                "status": {},
            }
            if job_phase == "Complete":
                job["status"]["conditions"] = [{"type": "Complete", "status": "True", "reason": "AllJobsCompleted",
                                                "message": "jobset completed successfully",
                                                "lastTransitionTime": finished}]
            elif job_phase == "Failed":
                job["status"]["conditions"] = [{"type": "Failed", "status": "True", "reason": "FailedJobs",
                                                "message": "TrainJob failed: node-0 exited with code 1",
                                                "lastTransitionTime": finished}]
            store.put("trainjobs", job)
            names.append(name)
            if job_phase == "Created":
                continue

            suffix = jobs.generated_suffix(rng)
            for pod_plan in template_pods:
                is_trainer = pod_plan.replicated_job not in jobs.INITIALIZER_STEPS
                image = next((c.get("image", "") for c in pod_plan.spec.get("containers", [])
                              if c.get("name") == pod_plan.container_name), "")
                if job_phase == "Running" and is_trainer:
                    pod_phase = "Running"
                    container_status = _running_status(pod_plan.container_name, image, created)
                elif job_phase == "Failed" and is_trainer:
                    pod_phase = "Failed"
                    container_status = _terminated_status(pod_plan.container_name, image, 1, created, finished)
                else:
                    pod_phase = "Succeeded"
                    container_status = _terminated_status(pod_plan.container_name, image, 0, created, finished)
                store.put("pods", {
                    "metadata": {
                        "name": f"{name}-{pod_plan.replicated_job}-0-{pod_plan.completion_index}-{suffix}",
                        "namespace": namespace,
                        "creationTimestamp": created,
                        "labels": jobs.pod_labels(name, pod_plan),
                    },
                    "spec": dict(pod_plan.spec, nodeName=node_names[index % len(node_names)]),
                    "status": {"phase": pod_phase, "startTime": created, "containerStatuses": [container_status]},
                })
    return names
