"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulator import Cluster, start_cluster

# Faster than the emulator's default tick, so that a TrainJob completes in about 0.3 s.
TEST_TICK_SECONDS = 0.02


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """An emulated Kubeflow cluster with the default seeds, and its kubeconfig under tmp_path."""
    handle = start_cluster(tick=TEST_TICK_SECONDS, kubeconfig=tmp_path / "kubeconfig")
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def kfai(cluster, tmp_path):
    """Run the installed `kfai` against the emulated cluster, in a clean environment."""
    from tests.kfai_runner import clean_env, run_kfai

    env = clean_env(tmp_path, cluster.kubeconfig)
    return lambda *args, **kwargs: run_kfai(*args, env=env, **kwargs)


@pytest.fixture
def offline(tmp_path):
    """Run the installed `kfai` with no kubeconfig and no LLM configured."""
    from tests.kfai_runner import clean_env, run_kfai

    env = clean_env(tmp_path)
    return lambda *args, **kwargs: run_kfai(*args, env=env, **kwargs)
