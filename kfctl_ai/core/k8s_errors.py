"""Turn Kubernetes client and Kubeflow SDK failures into errors a user can act on.

The SDK wraps API failures as `RuntimeError` or `TimeoutError` with the `ApiException`
in `__cause__`; the kubernetes client raises `ApiException` or urllib3 errors directly.
A 403, a 404 and an unreachable server each get their own message and exit code.
"""

from __future__ import annotations

import json
from typing import Any

from kfctl_ai.core.errors import (
    ClusterUnavailableError,
    ForbiddenError,
    KfaiError,
    NotFoundError,
    UsageError,
)

TRAINER_GROUP = "trainer.kubeflow.org"


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _api_exception(exc: BaseException) -> Any | None:
    for cause in _causes(exc):
        if type(cause).__name__ == "ApiException" and hasattr(cause, "status"):
            return cause
    return None


def _status_body(api_exc: Any) -> dict[str, Any] | None:
    """Return the Kubernetes `Status` object of an error response, if it has one."""
    body = getattr(api_exc, "body", None)
    if not body:
        return None
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("kind") == "Status" else None


def _is_connection_error(exc: BaseException) -> bool:
    names = {type(cause).__name__ for cause in _causes(exc)}
    connection_types = {
        "MaxRetryError",
        "NewConnectionError",
        "ConnectionRefusedError",
        "ConnectionError",
        "ProtocolError",
        "ReadTimeoutError",
        "ConnectTimeoutError",
        "TimeoutError",
        "socket.timeout",
    }
    return bool(names & connection_types)


def translate(
    exc: BaseException,
    action: str,
    target: str,
    namespace: str | None = None,
    trainer_api: bool = False,
) -> KfaiError | None:
    """Map `exc` raised while doing `action` on `target` to a `KfaiError`.

    `trainer_api` marks a request to a `trainer.kubeflow.org` resource: a 404 without a
    `Status` body there means the API group itself is missing. Returns None for anything
    that is not a cluster error, so the caller re-raises it as the bug it is.
    """
    if isinstance(exc, KfaiError):
        return exc

    api_exc = _api_exception(exc)
    where = f" in namespace '{namespace}'" if namespace else ""
    if api_exc is not None:
        status = api_exc.status
        body = _status_body(api_exc)
        reason = (body or {}).get("message") or api_exc.reason or ""
        if status == 401:
            return ForbiddenError(
                f"{action} {target} failed: the cluster did not accept your credentials",
                hint="refresh your kubeconfig credentials (for example log in again) and retry",
            )
        if status == 403 and "admission webhook" in reason:
            # Trainer's validating webhook answers 403 through controller-runtime: the
            # object is invalid (for example an unknown runtime), not the user forbidden.
            return UsageError(f"{action} {target} was rejected by the cluster: {reason}")
        if status == 403:
            return ForbiddenError(
                f"{action} {target}{where} is forbidden: {reason}",
                hint="ask a cluster admin for an RBAC role that allows it, or use another namespace with -n",
            )
        if status == 404 and body is None and trainer_api:
            return trainer_not_installed()
        if status == 404:
            return NotFoundError(f"{target} not found{where}", hint=_not_found_hint(target))
        if status == 409:
            return UsageError(f"{action} {target} failed: {reason}", hint="choose another --name")
        if status in {400, 422}:
            return UsageError(f"{action} {target} was rejected by the cluster: {reason}")
        if status is not None and status >= 500:
            return ClusterUnavailableError(
                f"{action} {target} failed: the API server returned {status} {reason}",
                hint="retry in a moment; if it persists, check the API server and the Trainer controller",
            )
        return None

    if _is_connection_error(exc):
        return ClusterUnavailableError(
            f"{action} {target} failed: cannot reach the Kubernetes API server ({_short(exc)})",
            hint="check that the cluster is up and that your kubeconfig context points at it "
            "(kubectl cluster-info); use --dry-run to preview without a cluster",
        )
    return None


def trainer_not_installed() -> ClusterUnavailableError:
    return ClusterUnavailableError(
        "Kubeflow Trainer is not installed on this cluster: the API has no "
        f"{TRAINER_GROUP}/v1alpha1 resources",
        hint="install Kubeflow Trainer (v2.x) or switch to a cluster that has it with --context",
    )


def _not_found_hint(target: str) -> str:
    if target.startswith("TrainJob"):
        return "list jobs with `kfai jobs` (and check the namespace with -n)"
    if "runtime" in target.lower():
        return "list runtimes with `kfai runtimes`"
    if target.startswith("namespace"):
        return "create the namespace or pick another one with -n"
    return "check the name and the namespace (-n)"


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]
