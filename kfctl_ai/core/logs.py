"""Logs of one TrainJob step, read once or followed until the job ends.

Following waits for a Pending pod instead of returning nothing (the SDK's
`get_job_logs(follow=True)` returns at once there), and reconnects when the stream
drops while the pod still runs, skipping the lines already delivered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from kfctl_ai.core.errors import ClusterUnavailableError, NotFoundError, TimedOutError
from kfctl_ai.core.jobs import JOBSET_NAME_LABEL, get_job, step_name
from kfctl_ai.core.names import validate_trainjob_name

TERMINAL_PHASES = {"Succeeded", "Failed"}
MAX_RECONNECTS = 5


def _find_pod(cluster: Any, job: str, step: str) -> dict[str, Any] | None:
    pods = cluster.list_pods(label_selector=f"{JOBSET_NAME_LABEL}={job}")
    matches = [pod for pod in pods if step_name(pod) == step]
    if not matches:
        return None
    return max(matches, key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "")


def _container_for(step: str) -> str:
    """Containers are named after the step's role: `node`, `launcher`, `dataset-initializer`."""
    role, _, index = step.rpartition("-")
    return role if index.isdigit() and role in {"node", "launcher"} else step


def wait_for_pod(
    cluster: Any,
    job: str,
    step: str,
    timeout: float,
    poll_interval: float = 1.0,
    on_wait: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Wait until the step's pod exists and has left Pending; return it."""
    # The job name goes into a label selector, where ',' or '=' would add terms.
    validate_trainjob_name(job)
    deadline = time.monotonic() + timeout
    announced = None
    while True:
        pod = _find_pod(cluster, job, step)
        phase = ((pod or {}).get("status") or {}).get("phase")
        if pod is not None and phase not in {None, "Pending"}:
            return pod

        summary = get_job(cluster, job)
        if summary.status in {"Complete", "Failed"} and pod is None:
            steps = ", ".join(s.name for s in summary.steps) or "none"
            raise NotFoundError(
                f"TrainJob '{job}' has no step '{step}' (steps: {steps})",
                hint=f"pick one with --step, for example `kfai logs {job} --step {summary.steps[0].name}`"
                if summary.steps
                else "the job ended before any pod ran; see `kfai jobs show " + job + "`",
            )
        state = f"pod {pod['metadata']['name']} is Pending" if pod else f"no pod for step {step} yet"
        if on_wait and state != announced:
            on_wait(state)
            announced = state
        if time.monotonic() >= deadline:
            raise TimedOutError(
                f"timed out after {timeout:g} s waiting for step '{step}' of TrainJob '{job}' to start ({state})",
                hint=f"check scheduling with `kfai jobs show {job}`",
            )
        time.sleep(poll_interval)


def read_logs(cluster: Any, job: str, step: str = "node-0", tail: int | None = None) -> list[str]:
    """Return the step's log lines so far."""
    # get_job rejects an invalid name, and a missing job is a clear 404 before the pod lookup.
    get_job(cluster, job)
    pod = _find_pod(cluster, job, step)
    if pod is None:
        steps = [s.name for s in get_job(cluster, job).steps]
        raise NotFoundError(
            f"TrainJob '{job}' has no pod for step '{step}'" + (f" (steps so far: {', '.join(steps)})" if steps else " yet"),
            hint=f"pick a step with --step, or follow it until it starts with `kfai logs {job} --step {step} -f`",
        )
    name = pod["metadata"]["name"]
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Pending":
        return []
    kwargs: dict[str, Any] = {"container": _container_for(step), "_request_timeout": (5, 60)}
    if tail:
        kwargs["tail_lines"] = tail
    text = cluster.call(
        lambda: cluster.core.read_namespaced_pod_log(name, cluster.namespace, **kwargs),
        "read logs of",
        f"pod '{name}'",
    )
    return text.splitlines()


def follow_log_batches(
    cluster: Any,
    job: str,
    step: str = "node-0",
    wait_timeout: float = 600.0,
    on_wait: Callable[[str], None] | None = None,
    on_reconnect: Callable[[int], None] | None = None,
) -> Iterator[list[str]]:
    """Yield the step's log lines as they arrive, one batch per network read, until its container ends."""
    get_job(cluster, job)
    pod = wait_for_pod(cluster, job, step, wait_timeout, on_wait=on_wait)
    name = pod["metadata"]["name"]
    container = _container_for(step)

    delivered = 0
    reconnects = 0
    while True:
        seen = 0
        dropped = False
        try:
            for batch in _stream(cluster, name, container):
                # After a reconnect the stream starts over: skip the lines already delivered.
                fresh = batch if seen >= delivered else batch[delivered - seen:]
                seen += len(batch)
                if fresh:
                    delivered += len(fresh)
                    yield fresh
        except Exception as exc:
            if not _is_stream_drop(exc):
                raise
            dropped = True
        # A stream can also end without an error when the connection is cut, so a clean
        # end counts only once the container has stopped.
        phase = ((cluster.read_pod(name).get("status")) or {}).get("phase")
        if dropped:
            # A plain read is one short response, which a proxy that cuts long-lived streams
            # lets through. It catches up on what the cut stream did not deliver.
            lines = _read_all(cluster, name, container)
            if len(lines) > delivered:
                yield lines[delivered:]
                delivered = len(lines)
        if phase in TERMINAL_PHASES:
            return
        reconnects += 1
        if reconnects > MAX_RECONNECTS:
            raise ClusterUnavailableError(
                f"the log stream of pod '{name}' dropped {MAX_RECONNECTS} times; {delivered} lines were shown",
                hint=f"retry with `kfai logs {job} --step {step} -f`",
            )
        if on_reconnect:
            on_reconnect(reconnects)
        time.sleep(min(0.2 * reconnects, 2.0))


def follow_logs(cluster: Any, job: str, step: str = "node-0", **options: Any) -> Iterator[str]:
    """Yield the step's log lines one by one; see `follow_log_batches`."""
    for batch in follow_log_batches(cluster, job, step, **options):
        yield from batch


def _read_all(cluster: Any, pod: str, container: str) -> list[str]:
    text = cluster.call(
        lambda: cluster.core.read_namespaced_pod_log(pod, cluster.namespace, container=container, _request_timeout=(5, 120)),
        "read logs of",
        f"pod '{pod}'",
    )
    return text.splitlines()


def _stream(cluster: Any, pod: str, container: str) -> Iterator[list[str]]:
    """Stream one container's log with the kubernetes client, a batch of whole lines per read."""
    response = cluster.call(
        lambda: cluster.core.read_namespaced_pod_log(
            pod,
            cluster.namespace,
            container=container,
            follow=True,
            _preload_content=False,
            _request_timeout=(5, None),
        ),
        "stream logs of",
        f"pod '{pod}'",
    )
    pending = b""
    try:
        for chunk in response.stream(amt=64 * 1024, decode_content=True):
            if pending:
                chunk = pending + chunk
            # The API server may send one HTTP chunk per line, so this loop must stay cheap:
            # one decode and one split per chunk. Decoding whole lines together gives the
            # same text as decoding each line, because the newline byte never occurs inside
            # a multi-byte UTF-8 sequence.
            complete, newline, pending = chunk.rpartition(b"\n")
            if newline:
                yield complete.decode("utf-8", errors="replace").split("\n")
        if pending:
            yield [pending.decode("utf-8", errors="replace")]
    finally:
        response.release_conn()


def _is_stream_drop(exc: BaseException) -> bool:
    names = {type(exc).__name__, type(exc.__cause__).__name__ if exc.__cause__ else ""}
    return bool(names & {"ProtocolError", "IncompleteRead", "ReadTimeoutError", "ConnectionResetError", "ChunkedEncodingError"})
