"""`kfai logs -f` on a failed job prints one JSON document, and `kfai train` rejects an
empty or unusable SCRIPT path before anything is previewed or submitted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_output_schemas import assert_matches_schema

FAILED_JOB = "fail-logs"  # the emulator fails every TrainJob whose name starts with fail-
LAST_FAILED_LINE = "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: training FAILED"
FAILING_SCRIPT = 'print("step 1")\nprint("step 2")\nraise SystemExit(3)\n'


def create_failed_job(cluster, kfai) -> None:
    created = kfai("fine-tune", "llama 3.2 1b", "--dataset", "alpaca", "--name", FAILED_JOB, "--yes")
    assert created.code == 0, created.stderr
    assert cluster.wait_for_job(FAILED_JOB, timeout=15) == "Failed"


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


# --- logs -f on a failed job ------------------------------------------------------------


def test_follow_failed_one_json_document(cluster, kfai):
    create_failed_job(cluster, kfai)

    result = kfai("logs", FAILED_JOB, "-f", "-o", "json")

    assert result.code == 8, result.stderr
    document = json.loads(result.stdout)  # raises "Extra data" on a second document
    assert document["status"] == "error"
    assert document["error"] == "job_failed"
    assert document["exit_code"] == 8
    assert "node-0 exited with code 1" in document["message"]
    assert document["job"] == FAILED_JOB
    assert document["step"] == "node-0"
    assert document["lines"][-1] == LAST_FAILED_LINE
    assert_matches_schema(document, "logs.json")


def test_follow_failed_job_error_names_reason(cluster, kfai):
    create_failed_job(cluster, kfai)

    result = kfai("logs", FAILED_JOB, "-f", "-o", "json")

    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    assert errors[0] == f"error: TrainJob '{FAILED_JOB}' failed: TrainJob failed: node-0 exited with code 1"
    assert f"hint: see its events with `kfai jobs show {FAILED_JOB}`" in result.stderr


def test_follow_failed_job_table_prints_lines(cluster, kfai):
    create_failed_job(cluster, kfai)

    result = kfai("logs", FAILED_JOB, "-f")

    assert result.code == 8, result.stderr
    assert result.stdout.splitlines()[-1] == LAST_FAILED_LINE
    assert len(error_lines(result.stderr)) == 1, result.stderr


def test_follow_failed_job_yaml_is_log_document(cluster, kfai):
    import yaml

    create_failed_job(cluster, kfai)

    result = kfai("logs", FAILED_JOB, "-f", "-o", "yaml")

    assert result.code == 8, result.stderr
    documents = list(yaml.safe_load_all(result.stdout))
    assert len(documents) == 1
    assert documents[0]["status"] == "Failed"
    assert documents[0]["lines"][-1] == LAST_FAILED_LINE
    assert_matches_schema(documents[0], "logs.json")


def test_local_follow_failed_one_document(offline, tmp_path):
    script = tmp_path / "fails.py"
    script.write_text(FAILING_SCRIPT)
    assert offline("train", str(script), "--local", "--name", "local-fails").code == 8

    result = offline("logs", "local-fails", "--local", "-f", "-o", "json")

    assert result.code == 8, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "error"
    assert document["error"] == "job_failed"
    assert document["exit_code"] == 8
    assert "fails.py exited with code 3" in document["message"]
    assert document["local"] is True
    assert document["lines"] == ["step 1", "step 2"]
    assert_matches_schema(document, "logs.json")


def test_local_log_document_matches_schema(offline, tmp_path):
    script = tmp_path / "fails.py"
    script.write_text(FAILING_SCRIPT)
    assert offline("train", str(script), "--local", "--name", "local-read").code == 8

    result = offline("logs", "local-read", "--local", "-o", "json")

    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["lines"] == ["step 1", "step 2"]
    assert_matches_schema(document, "logs.json")


def test_logs_schema_rejects_mixed_documents():
    failed = {"status": "error", "error": "job_failed", "message": "m", "exit_code": 8, "job": "a", "step": "node-0", "lines": []}
    assert_matches_schema(failed, "logs.json")

    with pytest.raises(AssertionError, match="does not match"):
        assert_matches_schema({**failed, "status": "Failed"}, "logs.json")
    with pytest.raises(AssertionError, match="does not match"):
        assert_matches_schema({"job": "a", "lines": []}, "logs.json")


@pytest.mark.parametrize("local", [False, True], ids=["cluster", "local"])
def test_follow_with_tail_is_rejected(cluster, kfai, local):
    create_failed_job(cluster, kfai)
    extra = ["--local"] if local else []

    result = kfai("logs", FAILED_JOB, "-f", "--tail", "2", *extra, "-o", "json")

    assert result.code == 2, result.stderr
    document = json.loads(result.stdout)
    assert document["error"] == "invalid_input"
    assert "--tail" in document["message"]
    assert "-f" in document["message"]


@pytest.mark.parametrize("extra", [[], ["-f"], ["--local"]], ids=["read", "follow", "local"])
def test_logs_empty_name_rejected(cluster, kfai, extra):
    result = kfai("logs", "", *extra, timeout=30)

    assert result.code == 2, result.stderr
    assert "kfai logs  " not in result.stderr
    assert len(error_lines(result.stderr)) == 1, result.stderr


# --- train SCRIPT paths ------------------------------------------------------------------


@pytest.mark.parametrize("extra", [[], ["-o", "json"], ["--local"]], ids=["table", "json", "local"])
def test_train_empty_script_is_usage_error(offline, extra):
    result = offline("train", "", "--dry-run", *extra)

    assert result.code == 2, result.stderr
    errors = error_lines(result.stderr)
    assert errors == ["error: empty SCRIPT path"], result.stderr
    assert "hint: pass the path of a Python training script" in result.stderr
    assert "Traceback" not in result.stderr


def test_train_empty_script_json_error(offline):
    result = offline("train", "", "--dry-run", "-o", "json")

    document = json.loads(result.stdout)
    assert document["status"] == "error"
    assert document["error"] == "invalid_input"
    assert document["exit_code"] == 2
    assert_matches_schema(document, "error.json")


def test_train_empty_script_creates_no_trainjob(cluster, kfai):
    result = kfai("train", "", "--yes", "-o", "json", "--name", "emptyscript")

    assert result.code == 2, result.stderr
    assert json.loads(result.stdout)["message"] == "empty SCRIPT path"
    names = [job["metadata"]["name"] for job in cluster.store.list("trainjobs", "default").items]
    assert "emptyscript" not in names


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("blank", "empty SCRIPT path"),
        ("directory", "script {tmp} is a directory, not a file"),
        ("missing", "script not found: {tmp}/missing.py"),
        ("device", "script /dev/null is not a regular file"),
    ],
)
@pytest.mark.parametrize("local", [False, True], ids=["cluster", "local"])
def test_train_unusable_script_path(offline, tmp_path, case, message, local):
    script = {"blank": "   ", "directory": str(tmp_path), "missing": str(tmp_path / "missing.py"), "device": "/dev/null"}[case]
    extra = ["--local"] if local else []

    result = offline("train", script, "--dry-run", *extra)

    assert result.code == 2, result.stderr
    assert error_lines(result.stderr) == ["error: " + message.format(tmp=tmp_path)]


def test_train_empty_image_is_usage_error(offline):
    result = offline("train", "--image", "", "--dry-run", "-o", "json")

    assert result.code == 2, result.stderr
    assert json.loads(result.stdout)["message"] == "empty --image value"


def test_train_empty_name_is_usage_error(offline):
    example = Path(__file__).resolve().parent.parent / "examples" / "train_regression.py"

    result = offline("train", str(example), "--name", "", "--dry-run")

    assert result.code == 2, result.stderr
    assert error_lines(result.stderr) == ["error: invalid TrainJob name '': it must be 1 to 63 lower-case letters, digits or '-', starting with a letter and ending with a letter or digit (an RFC 1035 DNS label)"]
