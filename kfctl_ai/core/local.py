"""Run a training script on this machine, and keep its status and log for later commands.

Each local job gets a folder `$XDG_STATE_HOME/kfai/local-jobs/<name>/` (default
`~/.local/state/kfai/local-jobs/<name>/`) with `status.json` and `output.log`, so that
`kfai jobs --local` and `kfai logs NAME --local` in another invocation find it.

NOTE: kfai does not use the Kubeflow SDK's LocalProcessBackend here. In SDK 0.5.0 that
backend builds a fresh virtual environment per job without system site-packages, so torch
is missing there or downloaded again. It gives the process only `CustomTrainer.env` (no
HOME, a default PATH) and calls `os.chdir` for the whole calling process. It passes
`func_args` as one positional dict, and it keeps jobs only in the memory of one
`TrainerClient`, where a later kfai invocation cannot see them. kfai instead runs the
script with the Python of the active environment, as `python SCRIPT` would.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kfctl_ai.core.custom import TrainParams, default_job_name
from kfctl_ai.core.custom_script import (
    Script,
    build_entry_point,
    load_script,
    outside_names_note,
    parse_pairs,
    script_argv,
)
from kfctl_ai.core.errors import ExitCode, JobFailedError, KfaiError, NotFoundError, UsageError
from kfctl_ai.core.names import validate_local_job_name

STATUS_FILE = "status.json"
LOG_FILE = "output.log"
# Seconds a stopped job gets between SIGTERM and SIGKILL.
STOP_GRACE_SECONDS = 5.0
# The statuses `kfai jobs --status` accepts; a local job is never Created, so that filter lists none.
STATUSES = ("Created", "Running", "Complete", "Failed")
TERMINAL = {"Complete", "Failed"}
READ_CHUNK = 64 * 1024


class LocalJobInterrupted(KfaiError):
    exit_code = ExitCode.INTERRUPTED
    kind = "interrupted"


class _Terminated(KeyboardInterrupt):
    """Raised in the main thread when kfai receives SIGTERM during a local run."""


@dataclass
class LocalJob:
    name: str
    status: str
    script: str
    command: list[str]
    cwd: str
    processes: int
    created: str
    log: str
    function: str | None = None
    finished: str | None = None
    duration_s: float | None = None
    exit_code: int | None = None
    reason: str | None = None  # Succeeded, Error, Interrupted, Terminated or Lost
    message: str | None = None
    pid: int | None = None
    kfai_pid: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def jobs_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "kfai" / "local-jobs"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _save(job: LocalJob, directory: Path) -> None:
    """Write status.json atomically, so a concurrent reader never sees half a file."""
    temporary = directory / f".{STATUS_FILE}.{os.getpid()}"
    temporary.write_text(json.dumps(job.to_dict(), indent=2) + "\n")
    os.replace(temporary, directory / STATUS_FILE)


def find_python() -> str:
    """Return the interpreter of the active environment: an activated virtualenv, else an
    activated conda environment, else the one kfai runs in."""
    for variable in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        prefix = os.environ.get(variable)
        if not prefix:
            continue
        for relative in ("bin/python", "Scripts/python.exe"):
            candidate = Path(prefix) / relative
            if candidate.exists():
                return str(candidate)
    return sys.executable


# --- preparing a run ----------------------------------------------------------------


@dataclass
class LocalRun:
    """A local job ready to start: its command, folder and the code it writes first."""

    name: str
    directory: Path
    script: Script
    command: list[str]
    cwd: Path
    processes: int
    env: dict[str, str] = field(default_factory=dict)
    function: str | None = None
    shipped_code: str | None = None  # with --func: the file the cluster would run, written to `directory`
    shipped_file: str | None = None
    notes: list[str] = field(default_factory=list)
    arg_values: list[str] = field(default_factory=list)

    def argv(self) -> list[str]:
        """Return the equivalent typed command."""
        argv = ["kfai", "train", self.script.typed_path, "--local", "--name", self.name]
        if self.function:
            argv += ["--func", self.function]
        for value in self.arg_values:
            argv += ["--arg", value]
        if self.processes > 1:
            argv += ["--gpus", str(self.processes)]
        for key, value in self.env.items():
            argv += ["--env", f"{key}={value}"]
        return argv


def _cluster_only_options(params: TrainParams) -> list[str]:
    options = {
        "--runtime": params.runtime,
        "--image": params.image,
        "--packages": params.packages,
        "--pip-index-url": params.pip_index_urls,
        "--cpu": params.cpu,
        "--memory": params.memory,
        "--nodes": params.nodes if params.nodes and params.nodes > 1 else None,
    }
    return [option for option, value in options.items() if value]


def _free_name(requested: str | None, stem: str) -> str:
    if requested is not None:
        name = validate_local_job_name(requested, hint="pick another --name, or leave it out for a generated one")
        if (jobs_dir() / name).exists():
            raise UsageError(
                f"local job '{name}' already exists in {jobs_dir()}",
                hint="pick another --name, or remove that folder",
            )
        return name
    while True:
        name = default_job_name(stem)
        if not (jobs_dir() / name).exists():
            return name


def prepare_local_run(params: TrainParams) -> LocalRun:
    """Validate the input and build the command of a local run; nothing starts yet."""
    if params.script is None:
        raise UsageError("--local needs a SCRIPT", hint="pass the training script to run on this machine")
    script = load_script(params.script)
    pairs = parse_pairs(params.args, "--arg")
    env = dict(parse_pairs(params.env, "--env"))
    entry = build_entry_point(script, params.function, pairs) if params.function else None
    name = _free_name(params.name, script.stem)
    directory = jobs_dir() / name
    processes = params.gpus or 1

    notes = []
    ignored = _cluster_only_options(params)
    if ignored:
        notes.append(f"{', '.join(ignored)} only apply on the cluster; the local run ignores them")
    note = outside_names_note(entry) if entry is not None else None
    if note:
        notes.append(note)

    if entry is not None:
        # The same file the cluster runs, so a function that works here works there.
        target = [str(directory / entry.file_name)]
    else:
        target = [str(script.path), *script_argv(pairs)]
    python = find_python()
    if processes > 1:
        command = [python, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", *target]
    else:
        command = [python, *target]
    return LocalRun(
        name=name,
        directory=directory,
        script=script,
        command=command,
        cwd=Path.cwd(),
        processes=processes,
        env=env,
        function=params.function,
        shipped_code=entry.shipped_code() if entry is not None else None,
        shipped_file=entry.file_name if entry is not None else None,
        notes=notes,
        arg_values=list(params.args),
    )


# --- running ------------------------------------------------------------------------


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into `_Terminated` while a job runs, so kfai stops the job before exiting."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def stop_process(process: subprocess.Popen[bytes], grace: float = STOP_GRACE_SECONDS) -> None:
    """Send SIGTERM to the job's process group, then SIGKILL after `grace` seconds or a second Ctrl-C."""
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(grace)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        _signal_group(process, signal.SIGKILL)
        process.wait()


def _pump(fd: int, log: Any, write: Callable[[bytes], None], deadline: float | None = None) -> None:
    """Copy the job's output to the log and to `write` until EOF, or until `deadline` (monotonic)."""
    while True:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return
        chunk = os.read(fd, READ_CHUNK)
        if not chunk:
            return
        log.write(chunk)
        log.flush()
        write(chunk)


def _exit_description(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _finish(job: LocalJob, directory: Path, started: float, status: str, code: int | None, reason: str, message: str) -> None:
    job.status = status
    job.exit_code = code
    job.reason = reason
    job.message = message
    job.finished = _now()
    job.duration_s = round(time.monotonic() - started, 2)
    _save(job, directory)


def run_local(run: LocalRun, write: Callable[[bytes], None], grace: float = STOP_GRACE_SECONDS) -> LocalJob:
    """Run the job to its end, copying its output to `write` as it comes.

    Returns the Complete job. Raises `JobFailedError` (exit 8) when the script fails and
    `LocalJobInterrupted` (exit 130) after Ctrl-C or SIGTERM, which stop the job first.
    """
    run.directory.mkdir(parents=True, exist_ok=False)
    if run.shipped_code is not None and run.shipped_file is not None:
        (run.directory / run.shipped_file).write_text(run.shipped_code, encoding="utf-8")
    job = LocalJob(
        name=run.name, status="Running", script=str(run.script.path), command=run.command, cwd=str(run.cwd),
        processes=run.processes, created=_now(), log=str(run.directory / LOG_FILE), function=run.function,
        kfai_pid=os.getpid(),
    )
    _save(job, run.directory)
    started = time.monotonic()
    # Unbuffered output, so that each line shows as the script prints it.
    env = {**os.environ, **run.env, "PYTHONUNBUFFERED": "1"}

    with open(run.directory / LOG_FILE, "ab") as log, _sigterm_as_interrupt():
        try:
            # A session of its own: Ctrl-C reaches kfai only, and kfai stops the whole group.
            process = subprocess.Popen(
                run.command, cwd=run.cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            )
        except OSError as exc:
            _finish(job, run.directory, started, "Failed", None, "Error", f"could not start {run.command[0]}: {exc}")
            raise JobFailedError(
                f"local job '{run.name}' could not start: {exc}",
                hint="activate the Python environment that has the script's packages, then rerun",
                job=run.name,
            ) from exc
        assert process.stdout is not None
        fd = process.stdout.fileno()
        try:
            job.pid = process.pid
            _save(job, run.directory)
            _pump(fd, log, write)
            code = process.wait()
        except KeyboardInterrupt as exc:
            terminated = isinstance(exc, _Terminated)
            stop_process(process, grace)
            with contextlib.suppress(OSError):
                _pump(fd, log, write, deadline=time.monotonic() + 1.0)
            reason = "Terminated" if terminated else "Interrupted"
            cause = "SIGTERM" if terminated else "Ctrl-C"
            message = f"stopped by {cause}: the script {_exit_description(process.returncode)}"
            _finish(job, run.directory, started, "Failed", process.returncode, reason, message)
            raise LocalJobInterrupted(
                f"local job '{run.name}' {message}",
                hint=f"its output so far is in {job.log}",
                job=run.name, job_status="Failed", reason=reason,
            ) from None
        except BaseException:
            stop_process(process, grace)
            _finish(job, run.directory, started, "Failed", process.returncode, "Error", "kfai stopped the job after an error of its own")
            raise
        finally:
            process.stdout.close()

    if code == 0:
        _finish(job, run.directory, started, "Complete", 0, "Succeeded", f"{run.script.name} finished")
        return job
    message = f"{run.script.name} {_exit_description(code)}"
    _finish(job, run.directory, started, "Failed", code, "Error", message)
    raise JobFailedError(
        f"local job '{run.name}' failed: {message}",
        hint=f"read its log with `kfai logs {run.name} --local`; it ran with {run.command[0]}",
        job=run.name, script_exit_code=code, log=job.log,
    )


# --- reading jobs back --------------------------------------------------------------


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _load(directory: Path) -> LocalJob | None:
    try:
        data = json.loads((directory / STATUS_FILE).read_text())
        job = LocalJob(**{key: data.get(key) for key in LocalJob.__dataclass_fields__ if key in data})
    except (OSError, ValueError, TypeError):
        return None
    if job.status == "Running" and not _alive(job.pid) and not _alive(job.kfai_pid):
        # kfai was killed (SIGKILL, a closed terminal) before it could record the result.
        job.status = "Failed"
        job.reason = "Lost"
        job.message = "kfai stopped before the job ended, so its result is unknown; see its log"
    return job


def list_local_jobs(status: str | None = None) -> list[LocalJob]:
    """List the local jobs of this user, newest first."""
    if status is not None and status not in STATUSES:
        raise UsageError(f"invalid status '{status}' for local jobs", hint=f"use one of: {', '.join(STATUSES)}")
    root = jobs_dir()
    jobs = [job for directory in (root.iterdir() if root.is_dir() else []) if (job := _load(directory)) is not None]
    if status:
        jobs = [job for job in jobs if job.status == status]
    return sorted(jobs, key=lambda job: (job.created, job.name), reverse=True)


def get_local_job(name: str) -> LocalJob:
    # The name becomes a folder under jobs_dir(), so '..' or '/' must not get through.
    validate_local_job_name(name)
    job = _load(jobs_dir() / name)
    if job is None:
        names = [j.name for j in list_local_jobs()]
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        raise NotFoundError(
            f"local job '{name}' not found in {jobs_dir()}" + (f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""),
            hint="list local jobs with `kfai jobs --local`",
        )
    return job


def read_local_log(name: str, tail: int | None = None) -> list[str]:
    """Return the lines a local job has written so far (the last `tail` ones when given)."""
    job = get_local_job(name)
    try:
        text = Path(job.log).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    lines = text.splitlines()
    return lines[-tail:] if tail else lines


def follow_local_log(name: str, poll_interval: float = 0.2) -> Iterator[str]:
    """Yield a local job's log lines as they are written, until the job ends."""
    job = get_local_job(name)
    path = Path(job.log)
    offset = 0
    pending = b""
    while True:
        finished = get_local_job(name).status in TERMINAL
        try:
            with open(path, "rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
        except FileNotFoundError:
            chunk = b""
        offset += len(chunk)
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode("utf-8", errors="replace")
        if finished and not chunk:
            if pending:
                yield pending.decode("utf-8", errors="replace")
            return
        if not chunk:
            time.sleep(poll_interval)
