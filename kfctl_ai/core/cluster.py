"""Access to one Kubernetes cluster with Kubeflow Trainer, through a kubeconfig.

Reads go through the kubernetes client and return plain dicts (the JSON the API server
sent), which keeps listing thousands of objects cheap. Writes go through the Kubeflow
SDK's `TrainerClient`, built on the same client configuration. Every failure is turned
into a `KfaiError` by `k8s_errors.translate`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from kfctl_ai.core.errors import ClusterUnavailableError
from kfctl_ai.core.gc_pause import large_import
from kfctl_ai.core.k8s_errors import translate
from kfctl_ai.core.names import validate_namespace, validate_trainjob_name

GROUP = "trainer.kubeflow.org"
VERSION = "v1alpha1"
TRAINER_SYSTEM_NAMESPACE = "kubeflow-system"

# (connect, read) seconds for every request kfai makes itself; a log stream sets its own.
REQUEST_TIMEOUT = (5, 60)
# Page sizes for `limit`/`continue`: 2,000 TrainJobs and their node pods fit in one page
# each, and a page is processed before the next is read, so memory stays per page.
TRAINJOB_PAGE_SIZE = 2000
POD_PAGE_SIZE = 5000

T = TypeVar("T")


def default_kubeconfig_path() -> str | None:
    """Return the kubeconfig the kubernetes client would use, or None when there is none."""
    env = os.environ.get("KUBECONFIG")
    if env:
        paths = [p for p in env.split(os.pathsep) if p]
        return paths[0] if paths and any(Path(p).exists() for p in paths) else None
    default = Path.home() / ".kube" / "config"
    return str(default) if default.exists() else None


class Cluster:
    """One cluster and namespace, as named by a kubeconfig, a context and `-n`."""

    def __init__(
        self,
        kubeconfig: str | None = None,
        context: str | None = None,
        namespace: str | None = None,
    ) -> None:
        # The kubernetes client (35.0) and the Kubeflow SDK (0.5) each create about 46,000
        # long-lived objects when imported.
        with large_import("kubernetes"):
            import yaml
        from kubernetes import client, config

        path = kubeconfig or default_kubeconfig_path()
        if path is None or not Path(path).exists():
            where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
            raise ClusterUnavailableError(
                f"no kubeconfig found at {where}",
                hint="point kfai at a cluster with --kubeconfig PATH or KUBECONFIG, "
                "or preview without one using --dry-run",
            )

        self.configuration = client.Configuration()
        try:
            config.load_kube_config(
                config_file=path, context=context, client_configuration=self.configuration
            )
            contexts, active = config.list_kube_config_contexts(config_file=path)
        except (config.ConfigException, yaml.YAMLError, ValueError, TypeError, AttributeError, KeyError, OSError) as exc:
            # A kubeconfig that is not YAML, not a mapping, or a folder fails inside the
            # kubernetes client with a parser or type error. Each is a problem with the file.
            raise ClusterUnavailableError(
                f"invalid kubeconfig {path}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                hint="check the file and the context name (kubectl config get-contexts)",
            ) from exc

        chosen = active
        if context:
            chosen = next((c for c in contexts if c.get("name") == context), active)
        context_namespace = (chosen or {}).get("context", {}).get("namespace")

        self.kubeconfig = path
        self.context = (chosen or {}).get("name")
        if namespace is not None:
            self.namespace = validate_namespace(namespace)
        elif context_namespace:
            self.namespace = validate_namespace(
                context_namespace,
                source=f"in context '{self.context}' of kubeconfig {path}",
                hint=f"fix it with `kubectl config set-context {self.context} --namespace=NAME`, or pass -n NAMESPACE",
            )
        else:
            # kubectl also reads an empty context namespace as "default".
            self.namespace = "default"
        self.host = self.configuration.host
        self.api_client = client.ApiClient(self.configuration)
        self.core = client.CoreV1Api(self.api_client)
        self.custom = client.CustomObjectsApi(self.api_client)

    @cached_property
    def trainer(self) -> Any:
        """Return the Kubeflow SDK client for this cluster and namespace, imported on first use."""
        with large_import("kubeflow.trainer"):
            from kubeflow.common.types import KubernetesBackendConfig
            from kubeflow.trainer import TrainerClient

        backend = KubernetesBackendConfig(
            namespace=self.namespace, client_configuration=self.configuration
        )
        return self.call(lambda: TrainerClient(backend_config=backend), "connect to", "Kubeflow Trainer")

    # --- error handling ----------------------------------------------------------

    def call(
        self,
        operation: Callable[[], T],
        action: str,
        target: str,
        trainer_api: bool = False,
        namespaced: bool = True,
    ) -> T:
        """Run one API operation and translate its failure into a `KfaiError`."""
        try:
            return operation()
        except Exception as exc:
            namespace = self.namespace if namespaced else None
            error = translate(exc, action, target, namespace, trainer_api=trainer_api)
            if error is None:
                raise
            raise error from exc

    def _json(self, response: Any) -> Any:
        return json.loads(response.data)

    # --- Trainer resources -------------------------------------------------------

    def list_runtime_objects(self) -> list[dict[str, Any]]:
        """List TrainingRuntimes of the namespace and ClusterTrainingRuntimes.

        A namespaced runtime hides a cluster runtime of the same name, as in the SDK.
        """
        from kubernetes.client import ApiException

        cluster_items = self.call(
            lambda: self.custom.list_cluster_custom_object(
                GROUP, VERSION, "clustertrainingruntimes", _request_timeout=REQUEST_TIMEOUT
            )["items"],
            "list",
            "ClusterTrainingRuntimes",
            trainer_api=True,
            namespaced=False,
        )
        try:
            namespaced_items = self.custom.list_namespaced_custom_object(
                GROUP, VERSION, self.namespace, "trainingruntimes", _request_timeout=REQUEST_TIMEOUT
            )["items"]
        except ApiException as exc:
            # Listing TrainingRuntimes may be forbidden where cluster ones are not.
            if exc.status not in {403, 404}:
                raise translate(exc, "list", "TrainingRuntimes", self.namespace) from exc
            namespaced_items = []

        by_name: dict[str, dict[str, Any]] = {}
        for item in namespaced_items:
            item.setdefault("kind", "TrainingRuntime")
            by_name[item["metadata"]["name"]] = item
        for item in cluster_items:
            item.setdefault("kind", "ClusterTrainingRuntime")
            by_name.setdefault(item["metadata"]["name"], item)
        return list(by_name.values())

    def get_runtime_object(self, name: str) -> dict[str, Any]:
        """Get a runtime by name, the namespaced one first, as the SDK resolves `runtimeRef`."""
        from kubernetes.client import ApiException

        try:
            item = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, "trainingruntimes", name, _request_timeout=REQUEST_TIMEOUT
            )
            item.setdefault("kind", "TrainingRuntime")
            return item
        except ApiException as exc:
            if exc.status not in {403, 404}:
                raise translate(exc, "get", f"runtime '{name}'", self.namespace) from exc
        item = self.call(
            lambda: self.custom.get_cluster_custom_object(
                GROUP, VERSION, "clustertrainingruntimes", name, _request_timeout=REQUEST_TIMEOUT
            ),
            "get",
            f"runtime '{name}'",
            trainer_api=True,
        )
        item.setdefault("kind", "ClusterTrainingRuntime")
        return item

    def list_trainjobs(self, label_selector: str | None = None) -> Iterator[dict[str, Any]]:
        """Yield the namespace's TrainJobs page by page (`limit`/`continue`)."""
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": TRAINJOB_PAGE_SIZE, "_request_timeout": REQUEST_TIMEOUT}
            if token:
                kwargs["_continue"] = token
            if label_selector:
                kwargs["label_selector"] = label_selector
            page = self.call(
                lambda: self.custom.list_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, "trainjobs", **kwargs
                ),
                "list",
                "TrainJobs",
                trainer_api=True,
            )
            yield from page.get("items", [])
            token = (page.get("metadata") or {}).get("continue")
            # Drop this page before the next one is decoded, so at most one page is in memory.
            del page
            if not token:
                return

    def get_trainjob(self, name: str) -> dict[str, Any]:
        validate_trainjob_name(name)
        return self.call(
            lambda: self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, "trainjobs", name, _request_timeout=REQUEST_TIMEOUT
            ),
            "get",
            f"TrainJob '{name}'",
            trainer_api=True,
        )

    def delete_trainjob(self, name: str) -> None:
        # An empty name makes the path `.../trainjobs/`, and in the Kubernetes API a DELETE
        # on a collection is deletecollection.
        validate_trainjob_name(name)
        self.call(
            lambda: self.custom.delete_namespaced_custom_object(
                GROUP, VERSION, self.namespace, "trainjobs", name, _request_timeout=REQUEST_TIMEOUT
            ),
            "delete",
            f"TrainJob '{name}'",
            trainer_api=True,
        )

    # --- core resources ----------------------------------------------------------

    def list_pods(self, label_selector: str | None = None) -> Iterator[dict[str, Any]]:
        """Yield the namespace's pods, page by page."""
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "limit": POD_PAGE_SIZE,
                "_preload_content": False,
                "_request_timeout": REQUEST_TIMEOUT,
            }
            if token:
                kwargs["_continue"] = token
            if label_selector:
                kwargs["label_selector"] = label_selector
            page = self.call(
                lambda: self._json(self.core.list_namespaced_pod(self.namespace, **kwargs)),
                "list",
                "pods",
            )
            yield from page.get("items", [])
            token = (page.get("metadata") or {}).get("continue")
            del page
            if not token:
                return

    def list_pods_all_namespaces(self, field_selector: str | None = None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"_preload_content": False, "_request_timeout": REQUEST_TIMEOUT}
        if field_selector:
            kwargs["field_selector"] = field_selector
        return self.call(
            lambda: self._json(self.core.list_pod_for_all_namespaces(**kwargs)),
            "list",
            "pods in all namespaces",
            namespaced=False,
        ).get("items", [])

    def read_pod(self, name: str) -> dict[str, Any]:
        return self.call(
            lambda: self._json(
                self.core.read_namespaced_pod(
                    name, self.namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
                )
            ),
            "get",
            f"pod '{name}'",
        )

    def list_events(self) -> list[dict[str, Any]]:
        return self.call(
            lambda: self._json(
                self.core.list_namespaced_event(
                    self.namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
                )
            ),
            "list",
            "events",
        ).get("items", [])

    def list_nodes(self) -> list[dict[str, Any]]:
        return self.call(
            lambda: self._json(
                self.core.list_node(_preload_content=False, _request_timeout=REQUEST_TIMEOUT)
            ),
            "list",
            "nodes",
            namespaced=False,
        ).get("items", [])

    def list_resource_quotas(self) -> list[dict[str, Any]]:
        return self.call(
            lambda: self._json(
                self.core.list_namespaced_resource_quota(
                    self.namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
                )
            ),
            "list",
            "resource quotas",
        ).get("items", [])

    def namespace_exists(self) -> bool:
        from kubernetes.client import ApiException

        try:
            self.core.read_namespace(self.namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT)
            return True
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise translate(exc, "get", f"namespace '{self.namespace}'") from exc
        except Exception as exc:
            error = translate(exc, "get", f"namespace '{self.namespace}'")
            if error is None:
                raise
            raise error from exc

    def secret_keys(self, name: str) -> set[str] | None:
        """Return the data keys of a Secret, or None when it does not exist; values are dropped unread."""
        from kubernetes.client import ApiException

        try:
            response = self.core.read_namespaced_secret(
                name, self.namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise translate(exc, "get", f"Secret '{name}'", self.namespace) from exc
        except Exception as exc:
            error = translate(exc, "get", f"Secret '{name}'", self.namespace)
            if error is None:
                raise
            raise error from exc
        secret = self._json(response)
        return set(secret.get("data") or {}) | set(secret.get("stringData") or {})

    def can_i(self, verb: str, resource: str, group: str = GROUP) -> tuple[bool, str]:
        """Ask the API server (SelfSubjectAccessReview) whether this user may `verb` `resource`."""
        from kubernetes import client

        review = client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(
                    namespace=self.namespace, verb=verb, group=group, resource=resource
                )
            )
        )
        api = client.AuthorizationV1Api(self.api_client)
        result = self.call(
            lambda: api.create_self_subject_access_review(review, _request_timeout=REQUEST_TIMEOUT),
            "check access to",
            resource,
        )
        return bool(result.status.allowed), result.status.reason or ""

    def trainer_version(self) -> str | None:
        """The Trainer version from the `kubeflow-trainer-public` ConfigMap, if published."""
        from kubernetes.client import ApiException

        try:
            data = self._json(
                self.core.read_namespaced_config_map(
                    "kubeflow-trainer-public",
                    TRAINER_SYSTEM_NAMESPACE,
                    _preload_content=False,
                    _request_timeout=REQUEST_TIMEOUT,
                )
            )
        except ApiException:
            return None
        return (data.get("data") or {}).get("kubeflow_trainer_version")
