"""Every exit code of `ExitCode` comes out of a real command, and `--no-input` never prompts.

`EXIT_CODE_TESTS` names the test of each code. Codes that test_cli_errors.py and
test_cli_e2e.py already cover point there instead of being tested twice. The others are
tested here, mostly in process against the emulated cluster.
"""

from __future__ import annotations

import io
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kfctl_ai.core.errors import ExitCode
from tests.kfai_runner import KFAI, clean_env
from tests.test_output_schemas import create_job, kfai, kfai_offline  # noqa: F401  (fixtures)
from tests.test_plugins import fake_plugin  # noqa: F401  (a fixture)

REPO_ROOT = Path(__file__).resolve().parent.parent
FINE_TUNE = ["fine-tune", "llama 3.2 1b", "--dataset", "alpaca"]

# The test that checks each exit code through a real command.
EXIT_CODE_TESTS = {
    ExitCode.OK: "tests/test_exit_codes.py::test_success_exits_0",
    ExitCode.BUG: "tests/test_exit_codes.py::test_unexpected_error_exits_1",
    ExitCode.USAGE: "tests/test_cli_errors.py::test_flag_typo_exits_2",
    ExitCode.DOES_NOT_FIT: "tests/test_exit_codes.py::test_does_not_fit_exits_3",
    ExitCode.NOT_FOUND: "tests/test_cli_errors.py::test_unknown_job_exits_4",
    ExitCode.CLUSTER_UNAVAILABLE: "tests/test_cli_errors.py::test_no_kubeconfig_exits_5",
    ExitCode.FORBIDDEN: "tests/test_cli_errors.py::test_forbidden_create_exits_6",
    ExitCode.NEEDS_CONFIRMATION: "tests/test_exit_codes.py::test_no_input_with_terminal_exits_7",
    ExitCode.JOB_FAILED: "tests/test_cli_e2e.py::test_jobs_wait_failed_job_exits_8",
    ExitCode.TIMED_OUT: "tests/test_exit_codes.py::test_wait_timeout_exits_124",
    ExitCode.INTERRUPTED: "tests/test_exit_codes.py::test_sigint_during_logs_follow_exits_130",
}


class FakeTerminal(io.StringIO):
    """A stdin that claims to be a terminal, as when a person runs kfai."""

    def isatty(self) -> bool:
        return True


def test_every_exit_code_has_a_test() -> None:
    assert set(EXIT_CODE_TESTS) == set(ExitCode), "add a test for the new exit code to EXIT_CODE_TESTS"
    for code, node in EXIT_CODE_TESTS.items():
        path, name = node.split("::")
        source = (REPO_ROOT / path).read_text(encoding="utf-8")
        assert f"def {name}(" in source, f"exit code {int(code)}: {node} does not exist"


def test_success_exits_0(kfai) -> None:
    result = kfai("runtimes", "-o", "json")

    assert result.code == ExitCode.OK
    assert result.json()["runtimes"]


def test_unexpected_error_exits_1(fake_plugin, kfai_offline) -> None:
    result = kfai_offline("crash")

    assert result.code == ExitCode.BUG
    assert "unexpected error: RuntimeError: the fake plugin's crash command failed on purpose" in result.stderr
    assert "bug in kfai" in result.stderr
    assert "Traceback" not in result.stderr


def test_unexpected_error_json_document(fake_plugin, kfai_offline) -> None:
    result = kfai_offline("crash", "-o", "json")

    assert result.code == ExitCode.BUG
    document = result.json()
    assert document["status"] == "error"
    assert document["error"] == "bug"
    assert document["exit_code"] == 1


def test_unexpected_error_debug_shows_traceback(fake_plugin, kfai_offline) -> None:
    result = kfai_offline("--debug", "crash")

    assert result.code == ExitCode.BUG
    assert "Traceback" in result.stderr


def test_does_not_fit_exits_3(kfai) -> None:
    result = kfai("preflight", "llama 3.1 70b", "-o", "json")

    assert result.code == ExitCode.DOES_NOT_FIT
    document = result.json()
    assert document["verdict"] == "does_not_fit"
    assert any(fix["fits"] for fix in document["fixes"])


def test_fine_tune_that_does_not_fit_exits_3(cluster, kfai) -> None:
    result = kfai("fine-tune", "llama 3.2 3b", "--dataset", "alpaca", "--batch-size", "64", "--seq-len", "8192",
                  "--no-gradient-checkpointing", "--yes")

    assert result.code == ExitCode.DOES_NOT_FIT
    assert "--force" in result.stderr
    assert cluster.store.list("trainjobs", "default").items == []


def test_wait_timeout_exits_124(cluster, kfai) -> None:
    cluster.store.hold("held-run", "Running")
    create_job_without_waiting(kfai, "held-run")

    result = kfai("jobs", "wait", "held-run", "--timeout", "0.2", "-o", "json")

    assert result.code == ExitCode.TIMED_OUT
    assert "timed out" in result.stderr
    assert result.json()["error"] == "timed_out"


def test_sigint_during_logs_follow_exits_130(cluster, kfai, tmp_path) -> None:
    cluster.store.hold("held-logs", "Running")
    create_job_without_waiting(kfai, "held-logs")
    env = clean_env(tmp_path, cluster.kubeconfig)
    follower = subprocess.Popen([KFAI, "logs", "held-logs", "-f"], env=env, text=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # The held job prints its whole log and keeps running, so the stream stays open.
        ready, _, _ = select.select([follower.stdout], [], [], 60)
        assert ready, "kfai logs -f printed nothing within 60 s"
        first_line = follower.stdout.readline()
        assert first_line.strip()

        follower.send_signal(signal.SIGINT)
        code = follower.wait(timeout=30)
        stderr = follower.stderr.read()
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()

    assert code == ExitCode.INTERRUPTED, stderr
    assert "Traceback" not in stderr


def create_job_without_waiting(kfai, name: str) -> None:
    created = kfai(*FINE_TUNE, "--name", name, "--yes")
    assert created.code == 0, created.stderr


# --- --no-input -------------------------------------------------------------------------


@pytest.fixture
def terminal(monkeypatch) -> list[str]:
    """Put a terminal on stdin; return the list of approval questions kfai prompts, all declined."""
    questions: list[str] = []

    def decline(question: str) -> bool:
        questions.append(question)
        return False

    monkeypatch.setattr(sys, "stdin", FakeTerminal(""))
    monkeypatch.setattr("kfctl_ai.cli.preview.ask_approval", decline)
    return questions


def test_terminal_asks_before_creating(cluster, kfai, terminal) -> None:
    """Without --no-input a person at a terminal is asked, which the tests below rule out."""
    result = kfai(*FINE_TUNE)

    assert result.code == ExitCode.NEEDS_CONFIRMATION
    assert len(terminal) == 1
    assert "declined" in result.stderr


def test_no_input_with_terminal_exits_7(cluster, kfai, terminal) -> None:
    result = kfai("--no-input", *FINE_TUNE, "-o", "json")

    assert result.code == ExitCode.NEEDS_CONFIRMATION
    assert terminal == []
    assert "--no-input" in result.stderr
    assert result.json()["status"] == "needs_confirmation"
    assert cluster.store.list("trainjobs", "default").items == []


def test_no_input_after_subcommand_exits_7(cluster, kfai, terminal) -> None:
    result = kfai(*FINE_TUNE, "--no-input")

    assert result.code == ExitCode.NEEDS_CONFIRMATION
    assert terminal == []


def test_no_input_from_environment_exits_7(cluster, kfai, terminal, monkeypatch) -> None:
    monkeypatch.setenv("KFAI_NO_INPUT", "true")

    result = kfai(*FINE_TUNE)

    assert result.code == ExitCode.NEEDS_CONFIRMATION
    assert terminal == []


def test_no_input_delete_keeps_job(cluster, kfai, terminal) -> None:
    create_job(kfai, cluster, "keep-me")

    result = kfai("jobs", "delete", "keep-me", "--no-input")

    assert result.code == ExitCode.NEEDS_CONFIRMATION
    assert terminal == []
    assert cluster.store.find("trainjobs", "default", "keep-me") is not None


def test_no_input_ask_exits_7(cluster, kfai, terminal) -> None:
    result = kfai("ask", "--no-input", "train llama 3.2 on alpaca")

    assert result.code == ExitCode.NEEDS_CONFIRMATION
    assert terminal == []
    assert cluster.store.list("trainjobs", "default").items == []


def test_no_input_confirm_reads_exits_7(kfai, terminal) -> None:
    result = kfai("ask", "--confirm-reads", "--no-input", "list my failed jobs")

    assert result.code == ExitCode.NEEDS_CONFIRMATION
    assert terminal == []


def test_no_input_read_commands_run(kfai, terminal) -> None:
    """--no-input only stops what would ask; reads and --yes go ahead."""
    assert kfai("--no-input", "jobs").code == ExitCode.OK
    assert kfai("--no-input", *FINE_TUNE, "--yes").code == ExitCode.OK
    assert terminal == []

