"""HTTP front end of the emulated cluster: Kubernetes REST paths, JSON in and out, Status errors."""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.emulator import jobs
from tests.emulator.store import RESOURCE_TYPES, ApiError, ResourceType, Store

logger = logging.getLogger(__name__)

AUTHORIZATION_GROUP = "authorization.k8s.io"
KUBERNETES_VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.1",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-05-15T00:00:00Z",
    "goVersion": "go1.24.2",
    "compiler": "gc",
    "platform": "linux/amd64",
}
_LOG_WAIT_SECONDS = 0.5


class PageNotFound(Exception):
    """A path that no API serves, for which the API server returns plain text `404 page not found`."""


def parse_bool(value: str, name: str) -> bool:
    """Parse a boolean query parameter with the spellings Go's strconv.ParseBool accepts."""
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise ApiError(400, "BadRequest", f'invalid value for query parameter {name}: "{value}" is not a boolean')


def parse_int(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise ApiError(400, "BadRequest", f'invalid value for query parameter {name}: "{value}" is not an integer') from None
    if number < 0:
        raise ApiError(400, "BadRequest", f"invalid value for query parameter {name}: {number} must not be negative")
    return number


def forbidden(store: Store, verb: str, resource: ResourceType | None, plural: str, namespace: str | None,
              name: str | None, group: str) -> ApiError:
    """Build the 403 Status the API server returns when RBAC denies a request."""
    qualified = resource.qualified_name if resource else plural
    subject = f'{qualified} "{name}"' if name and verb != "create" else qualified
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    message = (
        f'{subject} is forbidden: User "{store.user}" cannot {verb} resource "{plural}" '
        f'in API group "{group}" {scope}'
    )
    details = {"group": group, "kind": plural.split("/")[0]}
    if name:
        details["name"] = name
    return ApiError(403, "Forbidden", message, details)


class EmulatorServer(ThreadingHTTPServer):
    """A threading HTTP server bound to one store, which can cut its open connections on stop."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, store: Store, port: int = 0) -> None:
        self.store = store
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), EmulatorHandler)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class EmulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorServer
    server_version = "kfai-emulator"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes. Without TCP_NODELAY, Nagle's algorithm
        # and the client's delayed ACK add about 40 ms to every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        logger.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ------------------------------------------------------------------------------------------
    # Plumbing

    @property
    def store(self) -> Store:
        return self.server.store

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        self.store.record_request(method, path, query)
        try:
            body = self._read_body()
            if self.store.reject_credentials:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            self._route(method, path, query, body)
        except PageNotFound:
            logger.debug("%s %s: 404 page not found", method, path)
            self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")
        except ApiError as error:
            logger.debug("%s %s: %d %s", method, path, error.code, error.message)
            self._send_json(error.code, error.to_status())
        except (BrokenPipeError, ConnectionResetError) as error:
            logger.debug("%s %s: client disconnected: %s", method, path, error)
            self.close_connection = True
        except Exception as error:
            logger.exception("emulator failed on %s %s", method, self.path)
            self._send_json(500, ApiError(500, "InternalError", f"emulator error: {error!r}").to_status())

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, code: int, payload: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _send_json(self, code: int, obj: object) -> None:
        # Stored objects change under the controller thread, so serialize them under the lock.
        with self.store.lock:
            payload = json.dumps(obj, separators=(",", ":")).encode()
        self._send(code, payload, "application/json")

    @staticmethod
    def _json_body(body: bytes) -> object:
        try:
            return json.loads(body or b"null", parse_float=_parse_json_number)
        except ValueError as error:
            raise ApiError(400, "BadRequest", f"the request body is not valid JSON: {error}") from None

    # ------------------------------------------------------------------------------------------
    # Routing

    def _route(self, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        segments = [segment for segment in path.split("/") if segment]
        if path in ("/healthz", "/readyz", "/livez"):
            self._send(200, b"ok", "text/plain; charset=utf-8")
            return
        if method == "GET" and self._discovery(segments):
            return
        if segments[:2] == ["api", "v1"] and len(segments) > 2:
            self._resource_request(method, "", "v1", segments[2:], query, body)
            return
        if segments[:1] == ["apis"] and len(segments) > 3:
            group, version = segments[1], segments[2]
            if group == jobs.TRAINER_GROUP and not self.store.trainer_installed:
                raise PageNotFound
            if group == AUTHORIZATION_GROUP and version == "v1" and segments[3:] == ["selfsubjectaccessreviews"]:
                if method != "POST":
                    raise _method_not_allowed()
                self._access_review(self._json_body(body))
                return
            self._resource_request(method, group, version, segments[3:], query, body)
            return
        raise PageNotFound

    def _discovery(self, segments: list[str]) -> bool:
        groups = [(AUTHORIZATION_GROUP, "v1")]
        if self.store.trainer_installed:
            groups.append((jobs.TRAINER_GROUP, "v1alpha1"))

        if segments == ["version"]:
            self._send_json(200, KUBERNETES_VERSION)
        elif segments == ["api"]:
            host, port = self.server.server_address[:2]
            self._send_json(200, {
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": f"{host}:{port}"}],
            })
        elif segments == ["apis"]:
            self._send_json(200, {
                "kind": "APIGroupList", "apiVersion": "v1",
                "groups": [_api_group(group, version) for group, version in groups],
            })
        elif segments == ["api", "v1"]:
            self._send_json(200, _resource_list("", "v1"))
        elif len(segments) == 2 and segments[0] == "apis":
            match = [pair for pair in groups if pair[0] == segments[1]]
            if not match:
                raise PageNotFound
            self._send_json(200, dict(_api_group(*match[0]), kind="APIGroup", apiVersion="v1"))
        elif len(segments) == 3 and segments[0] == "apis":
            if (segments[1], segments[2]) not in groups:
                raise PageNotFound
            self._send_json(200, _resource_list(segments[1], segments[2]))
        else:
            return False
        return True

    def _resource_request(
        self, method: str, group: str, version: str, segments: list[str], query: dict[str, str], body: bytes
    ) -> None:
        namespace, plural, name, subresource = _split_resource_path(segments)
        resource = RESOURCE_TYPES.get(plural)
        if resource is None or resource.group != group or resource.version != version:
            raise PageNotFound
        if namespace is not None and not resource.namespaced:
            raise PageNotFound
        if namespace is None and resource.namespaced and name is not None:
            raise PageNotFound
        if subresource is not None and (plural, subresource) != ("pods", "log"):
            raise PageNotFound

        # NOTE: watch requests (`?watch=true`) are not served and fail with 405 after authorization.
        verb = _verb(method, name, query)
        checked_resource = f"{plural}/{subresource}" if subresource else plural
        if not self.store.is_allowed(verb, checked_resource, namespace):
            raise forbidden(self.store, verb, resource, checked_resource, namespace, name, group)
        if subresource == "log":
            self._pod_log(namespace or "", name or "", query)
            return
        if verb not in resource.verbs:
            raise _method_not_allowed()

        if verb == "list":
            self._list(resource, namespace, query)
        elif verb == "get":
            obj = self.store.get(plural, namespace, name or "")
            self._send_json(200, self._render(plural, obj))
        elif verb == "create":
            dry_run = query.get("dryRun") == "All"
            obj = self.store.create(plural, namespace, self._json_body(body), dry_run=dry_run)
            self._send_json(201, obj)
        elif verb == "delete":
            self._send_json(200, self.store.delete(plural, namespace, name or ""))
        elif verb == "patch":
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if content_type not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                raise ApiError(415, "UnsupportedMediaType", f"the emulator supports only merge patches, not {content_type!r}")
            self._send_json(200, self.store.merge_patch(plural, namespace, name or "", self._json_body(body)))

    def _render(self, plural: str, obj: dict) -> dict:
        if plural == "resourcequotas":
            return self.store.render_quota(obj)
        return obj

    def _list(self, resource: ResourceType, namespace: str | None, query: dict[str, str]) -> None:
        page = self.store.list(
            resource.plural,
            namespace,
            label_selector=query.get("labelSelector"),
            field_selector=query.get("fieldSelector"),
            limit=parse_int(query.get("limit"), "limit"),
            continue_token=query.get("continue") or None,
        )
        metadata: dict[str, object] = {"resourceVersion": page.resource_version}
        if page.continue_token:
            metadata["continue"] = page.continue_token
        if page.remaining_item_count is not None:
            metadata["remainingItemCount"] = page.remaining_item_count
        with self.store.lock:
            payload = json.dumps({
                "apiVersion": resource.api_version,
                "kind": f"{resource.kind}List",
                "metadata": metadata,
                "items": [self._render(resource.plural, item) for item in page.items],
            }, separators=(",", ":")).encode()
        self._send(200, payload, "application/json")

    # ------------------------------------------------------------------------------------------
    # Pod logs

    def _pod_log(self, namespace: str, pod_name: str, query: dict[str, str]) -> None:
        follow = parse_bool(query["follow"], "follow") if "follow" in query else False
        previous = parse_bool(query["previous"], "previous") if "previous" in query else False
        tail_lines = parse_int(query.get("tailLines"), "tailLines")

        with self.store.lock:
            pod = self.store.get("pods", namespace, pod_name)
            container = _log_container(pod, query.get("container"))
            if previous:
                raise ApiError(400, "BadRequest",
                               f'previous terminated container "{container}" in pod "{pod_name}" not found')
            if not pod["spec"].get("nodeName"):
                raise ApiError(400, "BadRequest", f'pod "{pod_name}" does not have a host assigned')
            state = next((status.get("state", {}) for status in pod["status"].get("containerStatuses", [])
                          if status.get("name") == container), {})
            if "waiting" in state or not state:
                reason = state.get("waiting", {}).get("reason", "ContainerCreating")
                raise ApiError(400, "BadRequest",
                               f'container "{container}" in pod "{pod_name}" is waiting to start: {reason}')
            log = self.store.container_log(namespace, pod_name, container)
            lines = list(log.lines) if log else []
            start = max(0, len(lines) - tail_lines) if tail_lines is not None else 0

        if not follow:
            text = "".join(line + "\n" for line in lines[start:])
            self._send(200, text.encode(), "text/plain")
            return
        self._stream_log(namespace, pod_name, container, start)

    def _stream_log(self, namespace: str, pod_name: str, container: str, cursor: int) -> None:
        """Send a log with chunked encoding as lines arrive, until the container terminates.

        With `store.log_stream_drop_after` set, the connection is cut after that many lines
        without the final chunk, as when an API server or proxy drops a long-lived request.
        """
        store = self.store
        drop_after = store.log_stream_drop_after
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        sent = 0
        while True:
            with store.changed:
                while True:
                    log = store.container_log(namespace, pod_name, container)
                    if log is None or cursor < len(log.lines) or log.terminated or store.stopping:
                        break
                    store.changed.wait(_LOG_WAIT_SECONDS)
                new_lines = log.lines[cursor:] if log else []
                finished = log is None or log.terminated or store.stopping
            cursor += len(new_lines)

            for line in new_lines:
                if drop_after is not None and sent >= drop_after:
                    self._cut_connection()
                    return
                data = (line + "\n").encode()
                self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
                sent += 1
            if finished:
                self.wfile.write(b"0\r\n\r\n")
                return

    def _cut_connection(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ------------------------------------------------------------------------------------------
    # Access reviews

    def _access_review(self, review: object) -> None:
        if not isinstance(review, dict) or not isinstance(review.get("spec"), dict):
            raise ApiError(400, "BadRequest", "a SelfSubjectAccessReview needs a spec")
        attributes = review["spec"].get("resourceAttributes")
        if attributes is None:
            allowed = True
        else:
            resource = attributes.get("resource", "")
            if attributes.get("subresource"):
                resource = f"{resource}/{attributes['subresource']}"
            allowed = self.store.is_allowed(attributes.get("verb", ""), resource, attributes.get("namespace") or None)
        status: dict[str, object] = {"allowed": allowed}
        if not allowed:
            status["reason"] = "denied by the emulator's access rules"
        response = {
            "apiVersion": f"{AUTHORIZATION_GROUP}/v1",
            "kind": "SelfSubjectAccessReview",
            "metadata": {"creationTimestamp": None},
            "spec": review["spec"],
            "status": status,
        }
        self._send_json(201, response)


def _parse_json_number(text: str) -> float | int:
    """Read a JSON float the way the API server stores it: a whole number such as 4.0 becomes 4.

    The SDK sends quantities like `nvidia.com/gpu: 4.0`. Go decodes them to float64 and encodes
    them back as `4`, so clients read an integer from a real cluster.
    """
    value = float(text)
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _split_resource_path(segments: list[str]) -> tuple[str | None, str, str | None, str | None]:
    """Split the segments after `/api/v1` or `/apis/G/V` into (namespace, plural, name, subresource)."""
    namespace = None
    if segments[0] == "namespaces" and len(segments) >= 3:
        namespace = segments[1]
        segments = segments[2:]
    if len(segments) > 3:
        raise PageNotFound
    plural = segments[0]
    name = segments[1] if len(segments) > 1 else None
    subresource = segments[2] if len(segments) > 2 else None
    return namespace, plural, name, subresource


def _verb(method: str, name: str | None, query: dict[str, str]) -> str:
    if method == "GET":
        if name is not None:
            return "get"
        if "watch" in query and parse_bool(query["watch"], "watch"):
            return "watch"
        return "list"
    if method == "POST":
        return "create"
    if method == "DELETE":
        return "delete" if name is not None else "deletecollection"
    if method == "PATCH":
        return "patch"
    return "update"


def _method_not_allowed() -> ApiError:
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def _log_container(pod: dict, requested: str | None) -> str:
    names = [container["name"] for container in pod["spec"].get("containers", [])]
    pod_name = pod["metadata"]["name"]
    if not requested:
        if len(names) == 1:
            return names[0]
        raise ApiError(400, "BadRequest",
                       f"a container name must be specified for pod {pod_name}, choose one of: [{' '.join(names)}]")
    if requested not in names:
        raise ApiError(400, "BadRequest", f"container {requested} is not valid for pod {pod_name}")
    return requested


def _api_group(group: str, version: str) -> dict:
    group_version = {"groupVersion": f"{group}/{version}", "version": version}
    return {"name": group, "versions": [group_version], "preferredVersion": group_version}


def _resource_list(group: str, version: str) -> dict:
    group_version = f"{group}/{version}" if group else version
    resources = [
        {
            "name": resource.plural,
            "singularName": resource.kind.lower(),
            "namespaced": resource.namespaced,
            "kind": resource.kind,
            "verbs": sorted(resource.verbs),
        }
        for resource in RESOURCE_TYPES.values()
        if resource.group == group and resource.version == version
    ]
    if not group:
        resources.append({"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]})
    if group == AUTHORIZATION_GROUP:
        resources.append({"name": "selfsubjectaccessreviews", "singularName": "selfsubjectaccessreview",
                          "namespaced": False, "kind": "SelfSubjectAccessReview", "verbs": ["create"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}
