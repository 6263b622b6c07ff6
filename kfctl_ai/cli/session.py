"""The state one kfai invocation shares between its commands: settings, output, cluster."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from kfctl_ai.cli.output import Output
from kfctl_ai.cli.registry import risk_of
from kfctl_ai.core.config import Settings
from kfctl_ai.core.personas import check_command


@dataclass
class Session:
    settings: Settings
    output: Output
    # True while `ask` executes a plan the user already approved as a whole.
    approved: bool = False
    # Inside `ask`: the most log lines a step prints (`--max-output`); None is no cap.
    max_output: int | None = None
    # True for the steps `ask` runs: their previews and results are part of the plan's.
    in_plan: bool = False
    _cluster: Any = field(default=None, repr=False)

    @property
    def interactive(self) -> bool:
        return sys.stdin.isatty() and not self.settings.no_input

    def cluster(self) -> Any:
        """Connect on first use; raises `ClusterUnavailableError` without a kubeconfig."""
        if self._cluster is None:
            from kfctl_ai.core.cluster import Cluster

            self._cluster = Cluster(
                kubeconfig=self.settings.kubeconfig,
                context=self.settings.context,
                namespace=self.settings.namespace,
            )
        return self._cluster

    def has_kubeconfig(self) -> bool:
        from kfctl_ai.core.cluster import default_kubeconfig_path

        return bool(self.settings.kubeconfig or default_kubeconfig_path())

    def namespace(self) -> str:
        """Return the namespace a command acts on, without connecting when that can be avoided."""
        if self.settings.namespace:
            return self.settings.namespace
        if self._cluster is not None or self.has_kubeconfig():
            from kfctl_ai.core.errors import UsageError

            try:
                return self.cluster().namespace
            except UsageError:
                # An invalid namespace in the kubeconfig context is reported here too, because
                # a preview in "default" would show another namespace than the command uses.
                raise
            except Exception:  # an unusable kubeconfig is reported by the command that needs it
                return "default"
        return "default"

    def authorize(self, path: str) -> str:
        """Check the persona against the command's declared risk; return the risk."""
        risk = risk_of(path)
        check_command(self.settings.persona, path, risk)
        return risk
