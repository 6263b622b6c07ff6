"""Start and stop an emulated cluster: server thread, controller thread and kubeconfig."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import yaml

from tests.emulator.controller import DEFAULT_TICK_SECONDS, Controller
from tests.emulator.seed import seed_defaults, seed_trainjobs
from tests.emulator.server import EmulatorServer
from tests.emulator.store import Store

CONTEXT_NAME = "kfai-emulator"
TOKEN = "kfai-emulator-token"

T = TypeVar("T")


def kubeconfig_document(url: str, namespace: str, user: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT_NAME, "cluster": {"server": url}}],
        "users": [{"name": user, "user": {"token": TOKEN}}],
        "contexts": [{"name": CONTEXT_NAME, "context": {"cluster": CONTEXT_NAME, "user": user, "namespace": namespace}}],
        "current-context": CONTEXT_NAME,
        "preferences": {},
    }


class Cluster:
    """A running emulated cluster.

    Attributes: `url` (`http://127.0.0.1:PORT`), `port`, `kubeconfig` (path of a kubeconfig whose
    current context points at the server with `namespace`), `store` (objects, faults, request
    log) and `controller` (the lifecycle thread).
    """

    def __init__(self, store: Store, server: EmulatorServer, controller: Controller, kubeconfig: Path,
                 temporary_dir: Path | None) -> None:
        self.store = store
        self.server = server
        self.controller = controller
        self.kubeconfig = kubeconfig
        self.port = server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._temporary_dir = temporary_dir
        self._server_thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                                               name="emulator-http", daemon=True)
        self._stopped = False

    def _start(self) -> None:
        self._server_thread.start()
        self.controller.start()

    def stop(self) -> None:
        """Stop the controller and the server, end open log streams and remove temporary files."""
        if self._stopped:
            return
        self._stopped = True
        self.controller.stop()
        with self.store.lock:
            self.store.stopping = True
            self.store.changed.notify_all()
        self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()
        self._server_thread.join(timeout=5)
        if self._temporary_dir is not None:
            shutil.rmtree(self._temporary_dir, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def write_kubeconfig(self, path: str | Path, namespace: str = "default") -> Path:
        """Write a kubeconfig for this cluster to `path`, with `namespace` in its current context."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(kubeconfig_document(self.url, namespace, self.store.user), sort_keys=False))
        return target

    # ------------------------------------------------------------------------------------------
    # Conveniences for tests

    def advance(self, ticks: int = 1) -> None:
        """Run controller passes now, also while the store is paused."""
        self.controller.advance(ticks)

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.01) -> T:
        """Poll `predicate` until it returns a truthy value, and return that value.

        Raises TimeoutError when `timeout` seconds pass first.
        """
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            time.sleep(interval)

    def job_condition(self, name: str, namespace: str = "default") -> str | None:
        """Return `Complete` or `Failed` once the TrainJob has that condition with status True."""
        with self.store.lock:
            job = self.store.find("trainjobs", namespace, name)
            for condition in ((job or {}).get("status") or {}).get("conditions") or []:
                if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
                    return condition["type"]
        return None

    def wait_for_job(self, name: str, namespace: str = "default", timeout: float = 5.0) -> str:
        """Wait until a TrainJob is Complete or Failed and return which."""
        return self.wait_for(lambda: self.job_condition(name, namespace), timeout=timeout)

    def seed_trainjobs(self, count: int, **options: object) -> list[str]:
        """Add finished TrainJobs with their pods in bulk; see `tests.emulator.seed.seed_trainjobs`."""
        return seed_trainjobs(self.store, count, **options)  # type: ignore[arg-type]


def start_cluster(
    port: int = 0,
    tick: float = DEFAULT_TICK_SECONDS,
    kubeconfig: str | Path | None = None,
    namespace: str = "default",
    seed: bool = True,
) -> Cluster:
    """Start an emulated cluster on 127.0.0.1 and return its handle. Call `stop()` when done.

    `port` 0 picks a free port. `tick` is the controller period in seconds. Without
    `kubeconfig` the kubeconfig goes to a temporary directory that `stop()` removes. With
    `seed` False the cluster starts empty: no namespaces, runtimes or nodes.
    """
    store = Store()
    if seed:
        seed_defaults(store)
    server = EmulatorServer(store, port)
    controller = Controller(store, tick)
    temporary_dir = None
    if kubeconfig is None:
        temporary_dir = Path(tempfile.mkdtemp(prefix="kfai-emulator-"))
        kubeconfig = temporary_dir / "kubeconfig"
    cluster = Cluster(store, server, controller, Path(kubeconfig), temporary_dir)
    cluster.write_kubeconfig(kubeconfig, namespace)
    cluster._start()
    return cluster
