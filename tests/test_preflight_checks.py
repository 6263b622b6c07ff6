"""Preflight cluster checks against the emulated cluster: each one passing and failing."""

from __future__ import annotations

import json

import pytest

from kfctl_ai.cli.main import run


@pytest.fixture
def env(monkeypatch, tmp_path, cluster):
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return cluster


def preflight(capsys, *args):
    code = run(["preflight", *args, "-o", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def check(report, name):
    return next(c for c in report["checks"] if c["name"] == name)


def test_all_checks_pass_on_a100(env, capsys):
    code, report = preflight(capsys, "llama 3.2 1b", "--hf-token-secret", "hf-token")

    assert code == 0
    assert report["verdict"] == "fits"
    for name in ("cluster", "namespace", "runtime", "gpus", "quota", "permission", "hf-token", "memory"):
        assert check(report, name)["status"] == "pass", check(report, name)
    assert report["gpu"]["product"] == "NVIDIA-A100-SXM4-80GB"
    assert report["gpu"]["memory_gib"] == pytest.approx(79.2, abs=0.1)  # 81,920 MiB label, 99% usable


def test_json_fields_match_design(env, capsys):
    _, report = preflight(capsys, "llama 3.2 1b")

    assert set(report["memory"]["breakdown"]) >= {"weights", "gradients", "optimizer", "activations", "overhead"}
    assert report["memory"]["per_gpu_gib"] == pytest.approx(sum(report["memory"]["breakdown"].values()), abs=0.05)
    assert all(c["status"] in {"pass", "warn", "fail", "skipped"} for c in report["checks"])


def test_quota_exceeded_fails(env, capsys):
    code, report = preflight(capsys, "llama 3.2 1b", "-n", "team-a", "--gpus", "8")

    assert check(report, "quota")["status"] == "fail"
    assert "requests.nvidia.com/gpu" in check(report, "quota")["message"]


def test_quota_within_limit_passes(env, capsys):
    _, report = preflight(capsys, "llama 3.2 1b", "-n", "team-a", "--gpus", "2")

    assert check(report, "quota")["status"] == "pass"


def test_permission_denied_fails(env, capsys):
    env.store.forbid("create", "trainjobs")

    _, report = preflight(capsys, "llama 3.2 1b")

    assert check(report, "permission")["status"] == "fail"


def test_no_node_with_enough_gpus_fails(env, capsys):
    _, report = preflight(capsys, "llama 3.2 1b", "--gpus", "16")

    assert check(report, "gpus")["status"] == "fail"
    assert "largest has 8" in check(report, "gpus")["message"]


def test_busy_gpus_warn(env, capsys):
    for node in ("gpu-a100-1", "gpu-a100-2", "gpu-l4-1"):
        env.store.put("pods", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"hog-{node}", "namespace": "default", "labels": {}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"requests": {"nvidia.com/gpu": "7"}, "limits": {"nvidia.com/gpu": "7"}}}]},
            "status": {"phase": "Running"},
        })

    _, report = preflight(capsys, "llama 3.2 1b", "--gpus", "2")

    assert check(report, "gpus")["status"] == "warn"
    assert "will wait" in check(report, "gpus")["message"]


def test_unknown_runtime_names_closest(env, capsys):
    _, report = preflight(capsys, "llama 3.2 1b", "--runtime", "torchtune-llama3.2-1bb")

    runtime = check(report, "runtime")
    assert runtime["status"] == "fail"


def test_runtime_for_another_model_fails(env, capsys):
    _, report = preflight(capsys, "llama 3.2 3b", "--runtime", "torchtune-llama3.2-1b")

    assert check(report, "runtime")["status"] == "fail"
    assert "Llama-3.2-1B" in check(report, "runtime")["message"]


def test_gated_model_without_secret_warns(env, capsys):
    _, report = preflight(capsys, "llama 3.2 1b")

    assert check(report, "hf-token")["status"] == "warn"


def test_missing_token_secret_fails(env, capsys):
    _, report = preflight(capsys, "llama 3.2 1b", "--hf-token-secret", "no-such-secret")

    assert check(report, "hf-token")["status"] == "fail"


def test_missing_namespace_fails(env, capsys):
    _, report = preflight(capsys, "llama 3.2 1b", "-n", "ghost")

    assert check(report, "namespace")["status"] == "fail"


def test_does_not_fit_exits_3_with_fixes(env, capsys):
    code, report = preflight(capsys, "llama 3.1 70b", "--method", "full", "--gpus", "1", "--gpu-type", "l4")

    assert code == 3
    assert report["verdict"] == "does_not_fit"
    assert report["fixes"]
    assert all("per_gpu_gib" in fix for fix in report["fixes"])


def test_without_cluster_checks_are_skipped(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))

    code, report = preflight(capsys, "qwen2.5 1.5b", "--gpu-type", "l4")

    assert code == 0
    assert check(report, "cluster")["status"] == "skipped"
    assert check(report, "quota")["status"] == "skipped"
    assert 22.0 < report["gpu"]["memory_gib"] < 23.0  # an L4 is sold as 24 GB


def test_fine_tune_refuses_when_it_does_not_fit(env, capsys):
    code = run(["fine-tune", "llama 3.2 3b", "--dataset", "alpaca", "--gpus", "1", "--batch-size", "64", "--seq-len", "8192",
                "--no-gradient-checkpointing", "--loss", "ce", "--yes"])
    err = capsys.readouterr().err

    assert code == 3
    assert "--force" in err
    assert env.store.list("trainjobs", "default").items == []
