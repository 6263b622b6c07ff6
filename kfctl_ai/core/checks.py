"""Cluster checks a submission needs, each a named pass/warn/fail/skipped result.

Each check reads the cluster once and does not raise for a cluster problem. A failure
becomes a failed check that keeps the `KfaiError` it came from. So `fine-tune` can stop
with the right exit code, while `preflight` reports every check at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kfctl_ai.core.errors import KfaiError

GPU_RESOURCE = "nvidia.com/gpu"
PRODUCT_LABEL = "nvidia.com/gpu.product"
MEMORY_LABEL = "nvidia.com/gpu.memory"  # MiB, as NVIDIA GPU feature discovery sets it


@dataclass
class Check:
    name: str
    status: str  # pass, warn, fail, skipped
    message: str
    error: KfaiError | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "message": self.message}


@dataclass
class GpuNode:
    name: str
    product: str | None
    memory_gib: float | None
    allocatable: int
    requested: int

    @property
    def free(self) -> int:
        return max(0, self.allocatable - self.requested)


def _quantity(value: Any) -> float:
    """Parse a Kubernetes quantity (`4`, `500m`, `8Gi`, `16G`) into a plain number."""
    text = str(value).strip()
    suffixes = {
        "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
        "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "m": 1e-3,
    }
    for suffix in sorted(suffixes, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * suffixes[suffix]
    return float(text)


def _pod_requests(pod: dict[str, Any], resource: str) -> float:
    total = 0.0
    for container in (pod.get("spec") or {}).get("containers") or []:
        resources = container.get("resources") or {}
        value = (resources.get("requests") or {}).get(resource, (resources.get("limits") or {}).get(resource))
        if value is not None:
            total += _quantity(value)
    return total


def gpu_nodes(cluster: Any) -> list[GpuNode]:
    """GPU nodes with allocatable GPUs minus what non-terminated pods on them request."""
    from kfctl_ai.core.gpus import memory_for_product, usable_memory_gib

    nodes = cluster.list_nodes()
    pods = cluster.list_pods_all_namespaces(field_selector="status.phase!=Succeeded,status.phase!=Failed")
    requested: dict[str, float] = {}
    for pod in pods:
        node_name = (pod.get("spec") or {}).get("nodeName")
        phase = (pod.get("status") or {}).get("phase")
        if node_name and phase not in {"Succeeded", "Failed"}:
            requested[node_name] = requested.get(node_name, 0) + _pod_requests(pod, GPU_RESOURCE)

    result = []
    for node in nodes:
        allocatable = int(_quantity(((node.get("status") or {}).get("allocatable") or {}).get(GPU_RESOURCE, 0)))
        if allocatable <= 0:
            continue
        labels = (node.get("metadata") or {}).get("labels") or {}
        product = labels.get(PRODUCT_LABEL)
        memory = None
        if labels.get(MEMORY_LABEL):
            memory = usable_memory_gib(int(labels[MEMORY_LABEL]))
        elif product:
            memory = memory_for_product(product)
        name = node["metadata"]["name"]
        result.append(GpuNode(name, product, memory, allocatable, int(requested.get(name, 0))))
    return result


def check_namespace(cluster: Any) -> Check:
    try:
        exists = cluster.namespace_exists()
    except KfaiError as exc:
        return Check("namespace", "fail", exc.message, exc)
    if exists:
        return Check("namespace", "pass", f"namespace '{cluster.namespace}' exists")
    from kfctl_ai.core.errors import NotFoundError

    error = NotFoundError(f"namespace '{cluster.namespace}' not found", hint="create it or pick another with -n")
    return Check("namespace", "fail", error.message, error)


def check_permission(cluster: Any, verb: str = "create", resource: str = "trainjobs") -> Check:
    from kfctl_ai.core.errors import ForbiddenError

    try:
        allowed, reason = cluster.can_i(verb, resource)
    except KfaiError as exc:
        return Check("permission", "warn", f"could not check RBAC: {exc.message}")
    if allowed:
        return Check("permission", "pass", f"you may {verb} {resource} in '{cluster.namespace}'")
    error = ForbiddenError(
        f"RBAC does not allow you to {verb} {resource} in namespace '{cluster.namespace}'" + (f": {reason}" if reason else ""),
        hint="ask a cluster admin for a role that allows it, or use another namespace with -n",
    )
    return Check("permission", "fail", error.message, error)


def check_quota(cluster: Any, gpus: int, cpu: float = 0.0, memory_bytes: float = 0.0) -> Check:
    """Compare what the job requests with each ResourceQuota's hard limit minus its usage."""
    from kfctl_ai.core.errors import DoesNotFitError

    try:
        quotas = cluster.list_resource_quotas()
    except KfaiError as exc:
        return Check("quota", "warn", f"could not read resource quotas: {exc.message}")
    if not quotas:
        return Check("quota", "pass", f"no ResourceQuota in namespace '{cluster.namespace}'")

    requested = {
        "requests.nvidia.com/gpu": float(gpus),
        "limits.nvidia.com/gpu": float(gpus),
        "requests.cpu": cpu,
        "requests.memory": memory_bytes,
    }
    problems = []
    headroom = []
    for quota in quotas:
        hard = ((quota.get("status") or {}).get("hard")) or (quota.get("spec") or {}).get("hard") or {}
        used = ((quota.get("status") or {}).get("used")) or {}
        for key, amount in requested.items():
            if not amount or key not in hard:
                continue
            left = _quantity(hard[key]) - _quantity(used.get(key, 0))
            label = f"{key} in ResourceQuota '{quota['metadata']['name']}'"
            if amount > left:
                problems.append(f"{label}: the job requests {amount:g}, {max(left, 0):g} of {_quantity(hard[key]):g} left")
            else:
                headroom.append(f"{key}: {left:g} left")
    if problems:
        error = DoesNotFitError("quota exceeded: " + "; ".join(problems), hint="request fewer GPUs (--gpus, --nodes), wait for running jobs to finish, or ask for a bigger quota")
        return Check("quota", "fail", error.message, error)
    return Check("quota", "pass", "within quota" + (f" ({', '.join(headroom)})" if headroom else ""))


def check_gated_token(cluster: Any | None, model_id: str, gated: bool, secret_ref: str | None) -> Check:
    if not gated:
        return Check("hf-token", "pass", f"{model_id} is not gated")
    if not secret_ref:
        return Check(
            "hf-token",
            "warn",
            f"{model_id} is gated on Hugging Face; without a token the model initializer will fail to download it "
            "(pass --hf-token-secret NAME[:KEY])",
            None,
        )
    from kfctl_ai.core.trainjob import parse_secret_ref

    secret, key = parse_secret_ref(secret_ref)
    if cluster is None:
        return Check("hf-token", "skipped", f"Secret '{secret}' not checked: no cluster")
    try:
        keys = cluster.secret_keys(secret)
    except KfaiError as exc:
        return Check("hf-token", "warn", f"could not check Secret '{secret}': {exc.message}")
    from kfctl_ai.core.errors import NotFoundError

    if keys is None:
        error = NotFoundError(
            f"Secret '{secret}' not found in namespace '{cluster.namespace}'",
            hint=f"create it with `kubectl create secret generic {secret} --from-literal={key}=$HF_TOKEN -n {cluster.namespace}`",
        )
        return Check("hf-token", "fail", error.message, error)
    if key not in keys:
        error = NotFoundError(
            f"Secret '{secret}' has no key '{key}' (keys: {', '.join(sorted(keys)) or 'none'})",
            hint=f"name the key with --hf-token-secret {secret}:KEY",
        )
        return Check("hf-token", "fail", error.message, error)
    return Check("hf-token", "pass", f"token Secret '{secret}' (key '{key}') exists")
