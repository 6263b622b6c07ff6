"""Each user error gets one line, a next step and the exit code from the design."""

from __future__ import annotations

import socket

import yaml

from tests.kfai_runner import clean_env, run_kfai


def assert_one_line_error(result):
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, result.stderr


def test_no_kubeconfig_exits_5(tmp_path):
    result = run_kfai("jobs", env=clean_env(tmp_path))

    assert result.code == 5
    assert_one_line_error(result)
    assert "--kubeconfig" in result.stderr


def test_unreachable_api_server_exits_5(tmp_path, cluster):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    config = yaml.safe_load(open(cluster.kubeconfig))
    config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{closed_port}"
    path = tmp_path / "closed.yaml"
    path.write_text(yaml.safe_dump(config))

    result = run_kfai("jobs", env=clean_env(tmp_path, path))

    assert result.code == 5
    assert_one_line_error(result)
    assert "cannot reach" in result.stderr


def test_trainer_not_installed_exits_5(cluster, kfai):
    cluster.store.trainer_installed = False

    result = kfai("runtimes")

    assert result.code == 5
    assert_one_line_error(result)
    assert "Kubeflow Trainer is not installed" in result.stderr


def test_forbidden_create_exits_6(cluster, kfai):
    cluster.store.forbid("create", "trainjobs")

    result = kfai("fine-tune", "llama 3.2 1b", "--dataset", "alpaca", "--yes")

    assert result.code == 6
    assert_one_line_error(result)
    assert "forbidden" in result.stderr.lower() or "rbac" in result.stderr.lower()


def test_unknown_model_suggests(kfai):
    result = kfai("preflight", "lama 3.2 1b")

    assert result.code == 2
    assert_one_line_error(result)
    assert "did you mean" in result.stderr


def test_unknown_runtime_exits_4(kfai):
    result = kfai("runtimes", "show", "torchtune-llama3.2-1bb")

    assert result.code == 4
    assert_one_line_error(result)
    assert "torchtune-llama3.2-1b" in result.stderr


def test_unknown_job_exits_4(kfai):
    result = kfai("jobs", "show", "no-such-job")

    assert result.code == 4
    assert_one_line_error(result)
    assert "no-such-job" in result.stderr


def test_flag_typo_exits_2(kfai):
    result = kfai("fine-tune", "llama 3.2 1b", "--dataset", "alpaca", "--epoch", "3")

    assert result.code == 2
    assert "--epochs" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_dataset_suggests(kfai):
    result = kfai("fine-tune", "llama 3.2 1b", "--dataset", "alpacca", "--dry-run")

    assert result.code == 2
    assert "alpaca" in result.stderr


def test_readonly_persona_cannot_fine_tune(cluster, kfai):
    result = kfai("--persona", "readonly", "fine-tune", "llama 3.2 1b", "--dataset", "alpaca", "--yes")

    assert result.code == 6
    assert "readonly" in result.stderr
    assert cluster.store.list("trainjobs", "default").items == []


def test_json_error_document(kfai):
    result = kfai("jobs", "show", "missing-job", "-o", "json")

    assert result.code == 4
    document = result.json()
    assert document["status"] == "error"
    assert document["exit_code"] == 4


def test_broken_kubeconfig_exits_5(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("clusters: [\n")

    result = run_kfai("--kubeconfig", str(broken), "jobs", env=clean_env(tmp_path))

    assert result.code == 5
    assert_one_line_error(result)
    assert "invalid kubeconfig" in result.stderr


def test_token_pasted_as_secret_is_not_echoed(kfai):
    token = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"

    result = kfai("fine-tune", "llama 3.2 1b", "--dataset", "alpaca", "--hf-token-secret", token, "--dry-run")

    assert result.code == 2
    assert token not in result.stderr + result.stdout
    assert "Secret" in result.stderr


def test_preflight_exits_with_failed_check_code(cluster, kfai):
    missing_runtime = kfai("preflight", "llama 3.2 1b", "--runtime", "nope")
    over_quota = kfai("-n", "team-a", "preflight", "llama 3.2 1b", "--gpus", "8")

    assert missing_runtime.code == 4
    assert over_quota.code == 3


def test_fine_tune_refuses_impossible_gpu_count(cluster, kfai):
    result = kfai("fine-tune", "llama 3.2 1b", "--dataset", "alpaca", "--gpus", "100", "--yes")

    assert result.code == 3
    assert "no node has 100 GPUs" in result.stderr
    assert cluster.store.list("trainjobs", "default").items == []


def test_wrong_secret_key_fails_check(cluster, kfai):
    result = kfai("preflight", "llama 3.2 1b", "--hf-token-secret", "hf-token:wrongkey", "-o", "json")

    check = next(c for c in result.json()["checks"] if c["name"] == "hf-token")
    assert check["status"] == "fail"
    assert "HF_TOKEN" in check["message"]
    assert result.code == 4


def test_piped_into_head_keeps_exit_code(tmp_path):
    import subprocess

    from tests.kfai_runner import KFAI

    env = clean_env(tmp_path)
    completed = subprocess.run(
        f"{KFAI} preflight 'llama 3.1 70b' --gpu-type l4 --method full | head -1; exit ${{PIPESTATUS[0]}}",
        shell=True, executable="/bin/bash", env=env, capture_output=True, text=True, timeout=90,
    )

    assert completed.returncode == 3
    assert "Traceback" not in completed.stderr


def test_parser_error_hint_names_subcommand(tmp_path):
    # click raises "does not take a value" and "requires an argument" without a context.
    for args, where in [(("fine-tune", "x", "--dataset", "alpaca", "--gradient-checkpointing=true"), "kfai fine-tune"),
                        (("-n", "team-a", "jobs", "show", "--tail"), "kfai jobs show"),
                        (("fine-tune", "x", "--method"), "kfai fine-tune")]:
        result = run_kfai(*args, env=clean_env(tmp_path))

        assert result.code == 2, args
        assert_one_line_error(result)
        assert f"hint: see `{where} --help`" in result.stderr, result.stderr
