"""An emulated Kubernetes cluster with Kubeflow Trainer v2.3, served over HTTP on 127.0.0.1.

The real `kubernetes` client and the Kubeflow SDK talk to it through a kubeconfig:

    from tests.emulator import start_cluster
    with start_cluster() as cluster:
        client = TrainerClient(backend_config=KubernetesBackendConfig(config_file=str(cluster.kubeconfig)))
"""

from tests.emulator.cluster import Cluster, start_cluster
from tests.emulator.store import ApiError, Store

__all__ = ["ApiError", "Cluster", "Store", "start_cluster"]
