"""`kfai train --local`: real runs on this machine, their status and logs kept for later."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kfctl_ai.cli.output import Output
from kfctl_ai.cli.session import Session
from kfctl_ai.core.config import Settings
from kfctl_ai.core.errors import JobFailedError
from kfctl_ai.core.local import get_local_job, jobs_dir, list_local_jobs, read_local_log, stop_process
from tests.kfai_runner import KFAI, clean_env, run_kfai

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "train_regression.py"
LOSS_LINE = re.compile(r"^step (\d+) loss ([0-9.]+)$", re.MULTILINE)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A clean environment whose active Python is this interpreter, with local jobs under tmp_path."""
    values = clean_env(tmp_path, VIRTUAL_ENV=sys.prefix)
    values.pop("CONDA_PREFIX", None)
    monkeypatch.setenv("XDG_STATE_HOME", values["XDG_STATE_HOME"])
    return values


@pytest.fixture
def kfai(env):
    return lambda *args, **kwargs: run_kfai(*args, env=env, **kwargs)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def wait_until(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"condition not met within {timeout} s")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_example_trains_locally(kfai):
    result = kfai("train", str(EXAMPLE), "--local", "--name", "regression", "--arg", "steps=150", "--arg", "log-every=25")

    assert result.code == 0, result.stderr
    losses = [(int(step), float(loss)) for step, loss in LOSS_LINE.findall(result.stdout)]
    assert [step for step, _ in losses] == [1, 25, 50, 75, 100, 125, 150]
    assert losses[-1][1] < 0.5 * losses[0][1], losses
    job = get_local_job("regression")
    assert job.status == "Complete"
    assert job.exit_code == 0
    assert [j.name for j in list_local_jobs()] == ["regression"]
    assert "step 150 loss" in "\n".join(read_local_log("regression"))


def test_failing_script_ends_failed(kfai, tmp_path):
    script = write(tmp_path / "fail.py", "import sys\nprint('about to fail')\nsys.exit(3)\n")

    result = kfai("train", str(script), "--local", "--name", "fails", "-o", "json")

    assert result.code == 8
    assert "about to fail" in result.stderr
    assert "fail.py exited with code 3" in result.stderr
    error = json.loads(result.stdout)
    assert error["exit_code"] == 8
    assert error["script_exit_code"] == 3
    job = get_local_job("fails")
    assert job.status == "Failed"
    assert job.exit_code == 3
    assert list_local_jobs(status="Failed")[0].name == "fails"


@pytest.mark.parametrize(
    ("signum", "reason", "cause"),
    [(signal.SIGINT, "Interrupted", "Ctrl-C"), (signal.SIGTERM, "Terminated", "SIGTERM")],
)
def test_signal_stops_job(env, tmp_path, signum, reason, cause):
    script = write(tmp_path / "forever.py", "import time\nprint('started', flush=True)\nwhile True:\n    time.sleep(0.1)\n")
    process = subprocess.Popen([KFAI, "train", str(script), "--local", "--name", "forever"], env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        log = jobs_dir() / "forever" / "output.log"
        wait_until(lambda: log.exists() and "started" in log.read_text() and get_local_job("forever").pid)
        child = get_local_job("forever").pid

        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()

    assert process.returncode == 130, stderr
    assert f"stopped by {cause}" in stderr
    job = get_local_job("forever")
    assert job.status == "Failed"
    assert job.reason == reason
    assert job.exit_code == -signal.SIGTERM
    assert child and not pid_alive(child)


def test_stop_kills_after_grace_period(tmp_path):
    ignores_sigterm = (
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", ignores_sigterm], stdout=subprocess.PIPE, start_new_session=True)
    assert process.stdout.readline() == b"ready\n"

    started = time.monotonic()
    stop_process(process, grace=0.5)

    assert process.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 10
    process.stdout.close()


def test_function_runs_with_arguments(kfai, tmp_path):
    script = write(tmp_path / "fn.py", (
        "import torch\n\n\ndef train(steps=1, lr=0.1, tag='none'):\n    print(f'train steps={steps} lr={lr} tag={tag}')\n\n\n"
        "if __name__ == '__main__':\n    raise SystemExit('the whole script must not run with --func')\n"
    ))

    result = kfai("train", str(script), "--local", "--func", "train", "--arg", "steps=3", "--arg", "lr=0.5", "--arg", "tag=warmup")

    assert result.code == 0, result.stderr
    assert "train steps=3 lr=0.5 tag=warmup" in result.stdout


def test_json_output_keeps_script_output_on_stderr(kfai, tmp_path):
    script = write(tmp_path / "hello.py", "import os\nprint('hello', os.environ['GREETING'])\n")

    result = kfai("train", str(script), "--local", "--env", "GREETING=world", "-o", "json")

    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "Complete"
    assert document["local"] is True
    assert "hello world" in result.stderr


def test_existing_name_is_rejected(kfai, tmp_path):
    script = write(tmp_path / "ok.py", "print('ok')\n")
    assert kfai("train", str(script), "--local", "--name", "twice").code == 0

    again = kfai("train", str(script), "--local", "--name", "twice")

    assert again.code == 2
    assert "local job 'twice' already exists" in again.stderr


def test_lost_job_reads_as_failed(env):
    directory = jobs_dir() / "lost"
    directory.mkdir(parents=True)
    dead_pid = 2**22 + 7  # above the largest pid_max Linux allows (2**22), so no process has it
    status = {"name": "lost", "status": "Running", "script": "x.py", "command": ["python3", "x.py"], "cwd": "/",
              "processes": 1, "created": "2025-01-01T00:00:00Z", "log": str(directory / "output.log"),
              "pid": dead_pid, "kfai_pid": dead_pid}
    (directory / "status.json").write_text(json.dumps(status))

    job = get_local_job("lost")

    assert job.status == "Failed"
    assert job.reason == "Lost"


def test_local_jobs_and_logs_render(kfai, tmp_path, capsys):
    script = write(tmp_path / "fail.py", "print('line one')\nprint('line two')\nraise SystemExit(2)\n")
    assert kfai("train", str(script), "--local", "--name", "render").code == 8
    from kfctl_ai.cli.commands.train import emit_local_jobs, emit_local_logs

    session = Session(settings=Settings(output="json"), output=Output("json"))
    listed = emit_local_jobs(session, None)
    logs = emit_local_logs(session, "render", tail=1)
    with pytest.raises(JobFailedError) as failed:
        emit_local_logs(session, "render", follow=True)

    assert [job["name"] for job in listed["jobs"]] == ["render"]
    assert listed["jobs"][0]["status"] == "Failed"
    assert logs["lines"] == ["line two"]
    # Under -o json a failed follow prints no log document, because its lines go into the error document.
    assert failed.value.to_dict()["lines"] == ["line one", "line two"]
    documents = capsys.readouterr().out
    assert documents.count('"job": "render"') == 1


def test_active_virtualenv_python_is_used(tmp_path, monkeypatch):
    from kfctl_ai.core.local import find_python

    python = tmp_path / "env" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "env"))
    assert find_python() == str(python)

    monkeypatch.delenv("VIRTUAL_ENV")
    assert find_python() == sys.executable
