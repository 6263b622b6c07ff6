"""Shell completion: Typer's completion protocol, and callables that complete names.

The scripts in `completions/` run `kfai` again on every TAB with `_KFAI_COMPLETE` set
(for example `complete_bash`), and click then prints candidates instead of running a
command. `enable_shell_completion` registers Typer's shell classes for that protocol.

The `complete_*` callables are Typer `autocompletion` callbacks. They run while click
parses the partial command line, before the root callback has built a `Session`. So
they read the settings themselves from the root options already typed (`--kubeconfig`,
`--context`, `-n`), the `KFAI_*` variables and the config file. An error printed during
completion would land in the user's shell, so the callables that read the kubeconfig or
the cluster return an empty list when that fails.
"""

from __future__ import annotations

from typing import Any

import typer

# More names than this are no help at a prompt, and the cap also stops reading TrainJob pages early.
MAX_CANDIDATES = 200


def enable_shell_completion() -> None:
    """Register Typer's bash, zsh, fish and PowerShell completion classes with click."""
    from typer.completion import completion_init

    completion_init()


def _root_options(ctx: typer.Context) -> dict[str, Any]:
    root = ctx.find_root()
    params = root.params or {}
    return {key: params.get(key) for key in ("kubeconfig", "context", "namespace")}


def _settings(ctx: typer.Context) -> Any:
    """Load the settings that the partial command line would run with."""
    from kfctl_ai.cli.session import Session
    from kfctl_ai.core.config import load_settings

    session = ctx.find_root().obj
    if isinstance(session, Session):
        return session.settings
    return load_settings(**_root_options(ctx))


def _cluster(ctx: typer.Context) -> Any | None:
    """Connect to the configured cluster; return None when no kubeconfig exists."""
    from kfctl_ai.core.cluster import Cluster, default_kubeconfig_path

    settings = _settings(ctx)
    if not (settings.kubeconfig or default_kubeconfig_path()):
        return None
    return Cluster(kubeconfig=settings.kubeconfig, context=settings.context, namespace=settings.namespace)


def complete_job_names(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Complete TrainJob names in the namespace, each with its runtime as the help text."""
    try:
        cluster = _cluster(ctx)
        if cluster is None:
            return []
        candidates: list[tuple[str, str]] = []
        for job in cluster.list_trainjobs():
            name = job["metadata"]["name"]
            if name.startswith(incomplete):
                runtime = ((job.get("spec") or {}).get("runtimeRef") or {}).get("name", "")
                candidates.append((name, f"TrainJob on {runtime}" if runtime else "TrainJob"))
            if len(candidates) >= MAX_CANDIDATES:
                break
        return sorted(candidates)
    except Exception:  # a failed completion shows nothing rather than a traceback at the prompt
        return []


def complete_runtime_names(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Complete runtime names: the cluster's, or the upstream ones when no cluster is configured."""
    try:
        from kfctl_ai.core.runtimes import parse_runtimes, upstream_runtimes

        cluster = _cluster(ctx)
        runtimes = upstream_runtimes() if cluster is None else parse_runtimes(cluster.list_runtime_objects())
        candidates = [(runtime.name, runtime.kind) for runtime in runtimes if runtime.name.startswith(incomplete)]
        return sorted(candidates)[:MAX_CANDIDATES]
    except Exception:  # a failed completion shows nothing rather than a traceback at the prompt
        return []


def complete_model_names(incomplete: str) -> list[tuple[str, str]]:
    """Complete model ids from kfai's catalog, as Hugging Face ids or bare repo names."""
    from kfctl_ai.core.models import list_models

    candidates: list[tuple[str, str]] = []
    for spec in list_models():
        description = f"{spec.family} {spec.size}"
        if spec.id.startswith(incomplete):
            candidates.append((spec.id, description))
        elif spec.name.startswith(incomplete):
            candidates.append((spec.name, description))
    return candidates[:MAX_CANDIDATES]


def complete_dataset_names(incomplete: str) -> list[tuple[str, str]]:
    """Complete dataset names from kfai's catalog."""
    from kfctl_ai.core.datasets import list_datasets

    return [(entry.name, entry.description) for entry in list_datasets() if entry.name.startswith(incomplete)]


def complete_personas(incomplete: str) -> list[str]:
    from kfctl_ai.core.personas import PERSONAS

    return [name for name in PERSONAS if name.startswith(incomplete)]


def complete_output_formats(incomplete: str) -> list[str]:
    from kfctl_ai.core.config import OUTPUT_FORMATS

    return [name for name in OUTPUT_FORMATS if name.startswith(incomplete)]


def complete_contexts(ctx: typer.Context, incomplete: str) -> list[str]:
    """Complete context names from the kubeconfig, read as YAML without the kubernetes client."""
    try:
        import yaml

        from kfctl_ai.core.cluster import default_kubeconfig_path

        path = _settings(ctx).kubeconfig or default_kubeconfig_path()
        if not path:
            return []
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle) or {}
        names = [entry.get("name", "") for entry in document.get("contexts") or []]
        return sorted(name for name in names if name and name.startswith(incomplete))
    except Exception:  # a failed completion shows nothing rather than a traceback at the prompt
        return []
