"""In-memory object store of the emulated cluster, with the faults and records that tests control.

All objects are plain JSON-shaped dicts in the camelCase form the API server sends. One
re-entrant lock guards everything. `changed` is a condition on that lock, notified on every
write, so that log streams can wait for new lines.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import random
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

from tests.emulator import jobs
from tests.emulator.selectors import (
    SelectorError,
    equality_value,
    labels_match,
    parse_field_selector,
    parse_label_selector,
)

DEFAULT_USER = "kfai-test"
TRAINER_SYSTEM_NAMESPACE = "kubeflow-system"
TRAINER_CONFIG_MAP = "kubeflow-trainer-public"

# Trainer's TrainJob names become JobSet, Job and pod names, so they must be DNS-1035 labels.
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_MAX_TRAINJOB_NAME = 63


@dataclass(frozen=True)
class ResourceType:
    """An API resource: where it lives, its kind, and the verbs the emulator serves for it."""

    plural: str
    group: str
    version: str
    kind: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified_name(self) -> str:
        """Resource name as API server messages print it: `pods`, `trainjobs.trainer.kubeflow.org`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


_READ = frozenset({"get", "list"})
_READ_WRITE = frozenset({"get", "list", "create", "delete"})

RESOURCE_TYPES: dict[str, ResourceType] = {
    resource.plural: resource
    for resource in (
        ResourceType("namespaces", "", "v1", "Namespace", False, _READ),
        ResourceType("nodes", "", "v1", "Node", False, _READ),
        ResourceType("pods", "", "v1", "Pod", True, _READ),
        ResourceType("events", "", "v1", "Event", True, _READ),
        ResourceType("configmaps", "", "v1", "ConfigMap", True, _READ),
        ResourceType("secrets", "", "v1", "Secret", True, frozenset({"get"})),
        ResourceType("resourcequotas", "", "v1", "ResourceQuota", True, _READ),
        ResourceType("clustertrainingruntimes", jobs.TRAINER_GROUP, "v1alpha1", "ClusterTrainingRuntime", False, _READ_WRITE),
        ResourceType("trainingruntimes", jobs.TRAINER_GROUP, "v1alpha1", "TrainingRuntime", True, _READ_WRITE),
        ResourceType("trainjobs", jobs.TRAINER_GROUP, "v1alpha1", "TrainJob", True, _READ_WRITE | {"patch"}),
    )
}


_clock_cache: tuple[int, str] = (0, "")


def utc_now() -> str:
    """Return the current time in RFC 3339 with seconds, the precision of Kubernetes timestamps."""
    global _clock_cache
    second = int(time.time())
    if _clock_cache[0] != second:
        _clock_cache = (second, datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return _clock_cache[1]


class ApiError(Exception):
    """An error the API server returns as a `Status` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def to_status(self) -> dict:
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            status["details"] = self.details
        return status


def not_found(resource: ResourceType, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{resource.qualified_name} "{name}" not found',
        {"name": name, "group": resource.group, "kind": resource.plural},
    )


@dataclass(frozen=True)
class AccessRule:
    """A denied (verb, resource, namespace) triple, where `*` in any field matches every value."""

    verb: str
    resource: str
    namespace: str

    def matches(self, verb: str, resource: str, namespace: str | None) -> bool:
        return (
            self.verb in ("*", verb)
            and self.resource in ("*", resource)
            and self.namespace in ("*", namespace or "")
        )


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request the server received, with the last value of each query parameter."""

    method: str
    path: str
    query: dict[str, str]


@dataclass
class ContainerLog:
    """The log of one container: lines written so far, and whether the container has terminated."""

    lines: list[str] = field(default_factory=list)
    terminated: bool = False


@dataclass
class ListPage:
    items: list[dict]
    resource_version: str
    continue_token: str | None = None
    remaining_item_count: int | None = None


def _normalize_resource(resource: str) -> str:
    """Reduce `trainjobs.trainer.kubeflow.org` to `trainjobs`, and keep `pods/log` as is."""
    plural, _, group = resource.partition(".")
    if plural in RESOURCE_TYPES and group == RESOURCE_TYPES[plural].group:
        return plural
    return resource


class Store:
    """Objects of the emulated cluster plus the faults, access rules and request log of a test."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._rng = random.Random()
        self.changed = threading.Condition(self.lock)
        self._resource_version = 1000
        self._objects: dict[str, dict[tuple[str, str], dict]] = {plural: {} for plural in RESOURCE_TYPES}
        self._sorted_keys: dict[str, list[tuple[str, str]] | None] = {plural: None for plural in RESOURCE_TYPES}
        # Pods by (namespace, JobSet name), so that the SDK's per-job pod list needs no full scan.
        self._pods_by_job: dict[tuple[str, str], set[str]] = {}
        self._logs: dict[tuple[str, str, str], ContainerLog] = {}
        self._new_trainjobs: list[tuple[str, str]] = []
        self._quota_baseline: dict[tuple[str, str], dict[str, Decimal]] = {}
        self._requests: list[RecordedRequest] = []
        self._denied: list[AccessRule] = []

        # Faults and behaviour that tests set directly.
        self.user = DEFAULT_USER
        self._trainer_installed = True
        self._hidden_trainer_config_map: dict | None = None
        self.reject_credentials = False
        self.failing_jobs: set[str] = set()
        self.log_stream_drop_after: int | None = None
        # Trainer's validating webhook denies a TrainJob whose runtime does not exist, and the
        # controller-runtime webhook framework turns that denial into HTTP 403. The emulator
        # returns 422 (Invalid) by default so that the denial is not mistaken for RBAC. Tests
        # can set 403 to reproduce a real cluster.
        self.webhook_denial_code = 422
        self.log_lines_per_tick = 3
        self.paused = False
        self._holds: dict[tuple[str, str], str] = {}
        self._scripted_logs: dict[tuple[str, str], list[str]] = {}
        self.stopping = False

    @property
    def trainer_installed(self) -> bool:
        """Whether Kubeflow Trainer is installed.

        Set to False, every `trainer.kubeflow.org` path returns a plain-text 404 and the
        `kubeflow-trainer-public` ConfigMap disappears. Set to True, both come back.
        """
        return self._trainer_installed

    @trainer_installed.setter
    def trainer_installed(self, installed: bool) -> None:
        with self.lock:
            if installed == self._trainer_installed:
                return
            self._trainer_installed = installed
            if installed:
                if self._hidden_trainer_config_map is not None:
                    self.put("configmaps", self._hidden_trainer_config_map)
                    self._hidden_trainer_config_map = None
            else:
                self._hidden_trainer_config_map = self.remove(
                    "configmaps", TRAINER_SYSTEM_NAMESPACE, TRAINER_CONFIG_MAP)

    # ------------------------------------------------------------------------------------------
    # Versions and low-level writes

    def next_resource_version(self) -> str:
        with self.lock:
            self._resource_version += 1
            return str(self._resource_version)

    @property
    def resource_version(self) -> str:
        return str(self._resource_version)

    def new_uid(self) -> str:
        """Return a random version-4 UUID, made faster than uuid.uuid4() for bulk seeding."""
        value = f"{self._rng.getrandbits(128):032x}"
        return f"{value[:8]}-{value[8:12]}-4{value[13:16]}-a{value[17:20]}-{value[20:]}"

    def put(self, plural: str, obj: dict) -> dict:
        """Insert or replace an object without admission checks, and give it a new resourceVersion."""
        with self.lock:
            metadata = obj.setdefault("metadata", {})
            resource = RESOURCE_TYPES[plural]
            if "uid" not in metadata:
                metadata["uid"] = self.new_uid()
            if "creationTimestamp" not in metadata:
                metadata["creationTimestamp"] = utc_now()
            if not resource.namespaced:
                metadata.pop("namespace", None)
            obj.setdefault("apiVersion", resource.api_version)
            obj.setdefault("kind", resource.kind)
            metadata["resourceVersion"] = self.next_resource_version()

            key = (metadata.get("namespace", "") if resource.namespaced else "", metadata["name"])
            bucket = self._objects[plural]
            if key not in bucket:
                self._sorted_keys[plural] = None
            bucket[key] = obj
            if plural == "pods":
                job_name = (metadata.get("labels") or {}).get(jobs.JOBSET_NAME_LABEL)
                if job_name:
                    self._pods_by_job.setdefault((key[0], job_name), set()).add(key[1])
            self.changed.notify_all()
            return obj

    def touch(self, plural: str, obj: dict) -> None:
        """Record an in-place change of a stored object by giving it a new resourceVersion."""
        with self.lock:
            obj["metadata"]["resourceVersion"] = self.next_resource_version()
            self.changed.notify_all()

    def remove(self, plural: str, namespace: str, name: str) -> dict | None:
        with self.lock:
            resource = RESOURCE_TYPES[plural]
            key = (namespace if resource.namespaced else "", name)
            obj = self._objects[plural].pop(key, None)
            if obj is None:
                return None
            self._sorted_keys[plural] = None
            if plural == "pods":
                job_name = (obj["metadata"].get("labels") or {}).get(jobs.JOBSET_NAME_LABEL)
                self._pods_by_job.get((key[0], job_name), set()).discard(name)
                for log_key in [k for k in self._logs if k[0] == key[0] and k[1] == name]:
                    self._logs[log_key].terminated = True
                    del self._logs[log_key]
            self.changed.notify_all()
            return obj

    # ------------------------------------------------------------------------------------------
    # Reads

    def find(self, plural: str, namespace: str | None, name: str) -> dict | None:
        resource = RESOURCE_TYPES[plural]
        return self._objects[plural].get((namespace or "" if resource.namespaced else "", name))

    def get(self, plural: str, namespace: str | None, name: str) -> dict:
        with self.lock:
            obj = self.find(plural, namespace, name)
            if obj is None:
                raise not_found(RESOURCE_TYPES[plural], name)
            return obj

    def count(self, plural: str) -> int:
        return len(self._objects[plural])

    def _keys_in_order(self, plural: str) -> list[tuple[str, str]]:
        keys = self._sorted_keys[plural]
        if keys is None:
            keys = sorted(self._objects[plural])
            self._sorted_keys[plural] = keys
        return keys

    def _candidate_keys(self, plural: str, namespace: str | None, requirements: list) -> list[tuple[str, str]]:
        if plural == "pods":
            job_name = equality_value(requirements, jobs.JOBSET_NAME_LABEL)
            if job_name is not None:
                namespaces = [namespace] if namespace is not None else sorted({ns for ns, _ in self._pods_by_job})
                return sorted(
                    (ns, pod_name)
                    for ns in namespaces
                    for pod_name in self._pods_by_job.get((ns, job_name), ())
                )
        keys = self._keys_in_order(plural)
        if namespace is None:
            return keys
        low = bisect.bisect_left(keys, (namespace, ""))
        high = bisect.bisect_left(keys, (namespace + "\x00", ""))
        return keys[low:high]

    def list(
        self,
        plural: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> ListPage:
        """List objects in key order, filtered by selectors, one page of `limit` items at a time.

        The continue token contains the last key returned, so a client that follows the tokens
        receives every object that existed during the whole listing exactly once.
        """
        try:
            requirements = parse_label_selector(label_selector)
            field_predicate = parse_field_selector(field_selector)
        except SelectorError as error:
            raise ApiError(400, "BadRequest", str(error)) from error

        with self.lock:
            start_after = None
            list_version = self.resource_version
            if continue_token:
                start_after, list_version = self._decode_continue(continue_token)

            keys = self._candidate_keys(plural, namespace, requirements)
            position = bisect.bisect_right(keys, start_after) if start_after else 0
            bucket = self._objects[plural]
            filtered = bool(requirements or field_selector)

            items: list[dict] = []
            next_token = None
            remaining = None
            for index in range(position, len(keys)):
                obj = bucket[keys[index]]
                metadata = obj["metadata"]
                if requirements and not labels_match(requirements, metadata.get("labels")):
                    continue
                if field_selector and not field_predicate(obj):
                    continue
                if limit and len(items) == limit:
                    # One more match exists past the page, so the client must continue.
                    next_token = self._encode_continue(_key_of(items[-1], plural), list_version)
                    if not filtered:
                        remaining = len(keys) - index
                    break
                items.append(obj)
            return ListPage(items, list_version, next_token, remaining)

    @staticmethod
    def _encode_continue(last_key: tuple[str, str], list_version: str) -> str:
        payload = json.dumps({"v": "emulator/1", "rv": list_version, "start": list(last_key)})
        return base64.urlsafe_b64encode(payload.encode()).decode()

    @staticmethod
    def _decode_continue(token: str) -> tuple[tuple[str, str], str]:
        try:
            payload = json.loads(base64.urlsafe_b64decode(token.encode()))
            start = payload["start"]
            return (str(start[0]), str(start[1])), str(payload["rv"])
        except (binascii.Error, ValueError, KeyError, IndexError, TypeError) as error:
            raise ApiError(400, "BadRequest", f"invalid continue token {token!r}: {error}") from error

    # ------------------------------------------------------------------------------------------
    # Writes through the API, with the checks the API server and Trainer's webhooks make

    def create(self, plural: str, namespace: str | None, body: object, dry_run: bool = False) -> dict:
        """Create an object with the API server's checks. With `dry_run`, check but store nothing."""
        resource = RESOURCE_TYPES[plural]
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", f"the request body for {resource.qualified_name} must be a JSON object")
        with self.lock:
            metadata = body.setdefault("metadata", {})
            if not isinstance(metadata, dict):
                raise ApiError(400, "BadRequest", "metadata must be a JSON object")
            if resource.namespaced:
                if metadata.get("namespace") not in (None, namespace):
                    raise ApiError(
                        400,
                        "BadRequest",
                        f"the namespace of the provided object ({metadata['namespace']}) does not match "
                        f"the namespace sent on the request ({namespace})",
                    )
                if self.find("namespaces", None, namespace) is None:
                    raise not_found(RESOURCE_TYPES["namespaces"], namespace)
                metadata["namespace"] = namespace
            if not metadata.get("name") and metadata.get("generateName"):
                metadata["name"] = metadata["generateName"] + jobs.generated_suffix(self._rng)
            name = metadata.get("name")
            if not name:
                raise ApiError(
                    422, "Invalid", f"{resource.kind}.{resource.group} is invalid: metadata.name: Required value: name or generateName is required"
                )
            for key in ("uid", "resourceVersion", "creationTimestamp"):
                metadata.pop(key, None)
            if self.find(plural, namespace, name) is not None:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{resource.qualified_name} "{name}" already exists',
                    {"name": name, "group": resource.group, "kind": resource.plural},
                )
            if plural == "trainjobs":
                self._admit_trainjob(body)
                body.setdefault("status", {})
            if dry_run:
                metadata.update(uid=self.new_uid(), creationTimestamp=utc_now())
                body.setdefault("apiVersion", resource.api_version)
                body.setdefault("kind", resource.kind)
                return body
            obj = self.put(plural, body)
            if plural == "trainjobs":
                metadata["generation"] = 1
                self._new_trainjobs.append((namespace, name))
            return obj

    def _admit_trainjob(self, job: dict) -> None:
        """Apply the TrainJob CRD defaults and the checks of Trainer's validating webhook."""
        name = job["metadata"]["name"]
        kind = f"TrainJob.{jobs.TRAINER_GROUP}"
        if len(name) > _MAX_TRAINJOB_NAME or not _DNS1035_LABEL.match(name):
            raise ApiError(
                422,
                "Invalid",
                f'{kind} "{name}" is invalid: metadata.name: Invalid value: "{name}": a lowercase RFC 1035 label '
                "must consist of lower case alphanumeric characters or '-', start with an alphabetic character, "
                f"and end with an alphanumeric character, at most {_MAX_TRAINJOB_NAME} characters",
                {"name": name, "group": jobs.TRAINER_GROUP, "kind": "TrainJob"},
            )
        spec = job.get("spec")
        if not isinstance(spec, dict) or not isinstance(spec.get("runtimeRef"), dict) or not spec["runtimeRef"].get("name"):
            raise ApiError(
                422,
                "Invalid",
                f'{kind} "{name}" is invalid: spec.runtimeRef.name: Required value',
                {"name": name, "group": jobs.TRAINER_GROUP, "kind": "TrainJob"},
            )
        runtime_ref = spec["runtimeRef"]
        runtime_ref.setdefault("apiGroup", jobs.TRAINER_GROUP)
        runtime_ref.setdefault("kind", "ClusterTrainingRuntime")
        spec.setdefault("managedBy", "trainer.kubeflow.org/trainjob-controller")
        spec.setdefault("suspend", False)

        if self.resolve_runtime(job) is None:
            scope = "clusterTrainingRuntime" if runtime_ref["kind"] == "ClusterTrainingRuntime" else "trainingRuntime"
            plural = f"{runtime_ref['kind'].lower()}s.{jobs.TRAINER_GROUP}"
            reference = json.dumps(runtime_ref, separators=(",", ":"))
            raise ApiError(
                self.webhook_denial_code,
                "Invalid" if self.webhook_denial_code == 422 else "Forbidden",
                'admission webhook "validator.trainjob.trainer.kubeflow.org" denied the request: '
                f"spec.runtimeRef: Invalid value: {reference}: {plural} \"{runtime_ref['name']}\" not found: "
                f"specified {scope} must be created before the TrainJob is created",
                {"name": name, "group": jobs.TRAINER_GROUP, "kind": "TrainJob"},
            )

    def resolve_runtime(self, job: dict) -> dict | None:
        """Return the runtime a TrainJob refers to, or None when it does not exist."""
        runtime_ref = (job.get("spec") or {}).get("runtimeRef") or {}
        if runtime_ref.get("kind") == "TrainingRuntime":
            return self.find("trainingruntimes", job["metadata"].get("namespace"), runtime_ref.get("name", ""))
        return self.find("clustertrainingruntimes", None, runtime_ref.get("name", ""))

    def delete(self, plural: str, namespace: str | None, name: str) -> dict:
        """Delete an object. Deleting a TrainJob also deletes its pods and ends their log streams."""
        with self.lock:
            obj = self.get(plural, namespace, name)
            self.remove(plural, namespace or "", name)
            if plural == "trainjobs":
                for pod_name in list(self._pods_by_job.get((namespace, name), ())):
                    self.remove("pods", namespace, pod_name)
                self._pods_by_job.pop((namespace, name), None)
            return obj

    def merge_patch(self, plural: str, namespace: str | None, name: str, patch: object) -> dict:
        """Apply a JSON merge patch (RFC 7386) to an object's metadata.labels, annotations and spec."""
        if not isinstance(patch, dict):
            raise ApiError(400, "BadRequest", "a merge patch must be a JSON object")
        with self.lock:
            obj = self.get(plural, namespace, name)
            for section in ("spec",):
                if section in patch:
                    obj[section] = _merge(obj.get(section), patch[section])
            for section in ("labels", "annotations"):
                if section in (patch.get("metadata") or {}):
                    obj["metadata"][section] = _merge(obj["metadata"].get(section), patch["metadata"][section])
            self.touch(plural, obj)
            return obj

    def drain_new_trainjobs(self) -> list[tuple[str, str]]:
        with self.lock:
            created, self._new_trainjobs = self._new_trainjobs, []
            return created

    # ------------------------------------------------------------------------------------------
    # Pods and logs

    def pods_of(self, job_name: str, namespace: str = "default") -> list[dict]:
        """Return the pods of a TrainJob in name order."""
        with self.lock:
            names = sorted(self._pods_by_job.get((namespace, job_name), ()))
            return [self._objects["pods"][(namespace, name)] for name in names]

    def container_log(self, namespace: str, pod: str, container: str, create: bool = False) -> ContainerLog | None:
        with self.lock:
            key = (namespace, pod, container)
            log = self._logs.get(key)
            if log is None and create:
                log = self._logs[key] = ContainerLog()
            return log

    def append_log(self, namespace: str, pod: str, container: str, lines: Iterable[str]) -> None:
        with self.lock:
            log = self.container_log(namespace, pod, container, create=True)
            for line in lines:
                log.lines.extend(str(line).split("\n"))
            self.changed.notify_all()

    def end_log(self, namespace: str, pod: str, container: str) -> None:
        with self.lock:
            log = self.container_log(namespace, pod, container, create=True)
            log.terminated = True
            self.changed.notify_all()

    def script_logs(self, job_name: str, lines: Iterable[str], step: str = "node-0") -> None:
        """Make the pod of `step` in TrainJob `job_name` print `lines` in place of its generated log.

        Lines are written as given, so that tests can inject hostile text such as escape
        sequences, markup or very long lines. A line that contains newlines becomes several lines.
        """
        with self.lock:
            self._scripted_logs[(job_name, step)] = [str(line) for line in lines]

    def scripted_log(self, job_name: str, step: str) -> list[str] | None:
        with self.lock:
            return self._scripted_logs.get((job_name, step))

    # ------------------------------------------------------------------------------------------
    # Controller control

    def pause(self) -> None:
        """Stop the controller from moving any TrainJob forward until `resume`."""
        with self.lock:
            self.paused = True

    def resume(self) -> None:
        with self.lock:
            self.paused = False
            self.changed.notify_all()

    def hold(self, job_name: str, phase: str, namespace: str = "default") -> None:
        """Keep one TrainJob at `phase` until `release`. The job may be created after this call.

        `Created`: no pods yet. `Pending`: trainer pods exist and are Pending, so their log
        requests fail with 400. `Running`: trainer pods run and print their whole log, but do
        not terminate.
        """
        if phase not in ("Created", "Pending", "Running"):
            raise ValueError(f"invalid hold phase {phase!r}: expected Created, Pending or Running")
        with self.lock:
            self._holds[(namespace, job_name)] = phase

    def release(self, job_name: str, namespace: str = "default") -> None:
        with self.lock:
            self._holds.pop((namespace, job_name), None)
            self.changed.notify_all()

    def hold_phase(self, namespace: str, job_name: str) -> str | None:
        return self._holds.get((namespace, job_name))

    def is_failing(self, job_name: str) -> bool:
        return job_name.startswith("fail-") or job_name in self.failing_jobs

    # ------------------------------------------------------------------------------------------
    # Access control

    def forbid(self, verb: str, resource: str, namespace: str = "*") -> None:
        """Deny a verb on a resource: requests get a 403 Status and access reviews return not allowed.

        `resource` is a plural (`trainjobs`, `pods/log`), optionally with its group
        (`trainjobs.trainer.kubeflow.org`). `*` matches every verb, resource or namespace, and
        `namespace` is `""` for cluster-scoped resources.
        """
        with self.lock:
            self._denied.append(AccessRule(verb, _normalize_resource(resource), namespace))

    def allow(self, verb: str, resource: str, namespace: str = "*") -> None:
        """Remove a rule added by `forbid` with the same arguments."""
        with self.lock:
            rule = AccessRule(verb, _normalize_resource(resource), namespace)
            self._denied = [existing for existing in self._denied if existing != rule]

    def allow_all(self) -> None:
        with self.lock:
            self._denied = []

    def is_allowed(self, verb: str, resource: str, namespace: str | None) -> bool:
        with self.lock:
            normalized = _normalize_resource(resource)
            return not any(rule.matches(verb, normalized, namespace) for rule in self._denied)

    # ------------------------------------------------------------------------------------------
    # Request log

    def record_request(self, method: str, path: str, query: dict[str, str]) -> None:
        with self.lock:
            self._requests.append(RecordedRequest(method, path, query))

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self.lock:
            self._requests = []

    def count_requests(self, method: str | None = None, path_prefix: str = "") -> int:
        """Count recorded requests, optionally of one method and with paths that start with a prefix."""
        with self.lock:
            return sum(
                1
                for request in self._requests
                if (method is None or request.method == method) and request.path.startswith(path_prefix)
            )

    # ------------------------------------------------------------------------------------------
    # Resource quotas

    def add_resource_quota(
        self, namespace: str, name: str, hard: dict[str, str], used_elsewhere: dict[str, str] | None = None
    ) -> dict:
        """Add a ResourceQuota. `used_elsewhere` is the usage of workloads the emulator does not model.

        `status.used` is that baseline plus the requests of the namespace's pods that have not
        terminated, recomputed whenever the quota is read.
        """
        with self.lock:
            self._quota_baseline[(namespace, name)] = {
                key: jobs.parse_quantity(value) for key, value in (used_elsewhere or {}).items()
            }
            quota = {
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"hard": dict(hard)},
                "status": {"hard": dict(hard), "used": {}},
            }
            return self.put("resourcequotas", quota)

    def quota_usage(self, namespace: str, name: str) -> dict[str, Decimal]:
        with self.lock:
            quota = self.get("resourcequotas", namespace, name)
            usage = dict(self._quota_baseline.get((namespace, name), {}))
            totals = self.namespace_usage(namespace)
            for key in quota["spec"].get("hard", {}):
                usage[key] = usage.get(key, Decimal(0)) + totals.get(key, Decimal(0))
            return usage

    def namespace_usage(self, namespace: str) -> dict[str, Decimal]:
        """Sum the quota-style usage of the pods in a namespace that have not terminated."""
        totals: dict[str, Decimal] = {}
        pods = 0
        for key in self._candidate_keys("pods", namespace, []):
            pod = self._objects["pods"][key]
            if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
                continue
            pods += 1
            for field_name, prefix in (("requests", "requests."), ("limits", "limits.")):
                for resource, amount in jobs.pod_resource_totals(pod, field_name).items():
                    totals[prefix + resource] = totals.get(prefix + resource, Decimal(0)) + amount
                    if field_name == "requests" and resource in ("cpu", "memory"):
                        totals[resource] = totals.get(resource, Decimal(0)) + amount
        totals["pods"] = Decimal(pods)
        trainjobs = self._candidate_keys("trainjobs", namespace, [])
        totals[f"count/trainjobs.{jobs.TRAINER_GROUP}"] = Decimal(len(trainjobs))
        return totals

    def render_quota(self, quota: dict) -> dict:
        """Return a copy of a ResourceQuota with `status.used` filled in."""
        metadata = quota["metadata"]
        usage = self.quota_usage(metadata["namespace"], metadata["name"])
        rendered = dict(quota)
        rendered["status"] = {
            "hard": dict(quota["spec"].get("hard", {})),
            "used": {key: jobs.format_quantity(usage.get(key, Decimal(0))) for key in quota["spec"].get("hard", {})},
        }
        return rendered


def _key_of(obj: dict, plural: str) -> tuple[str, str]:
    metadata = obj["metadata"]
    namespace = metadata.get("namespace", "") if RESOURCE_TYPES[plural].namespaced else ""
    return (namespace, metadata["name"])


def _merge(target: object, patch: object) -> object:
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result

