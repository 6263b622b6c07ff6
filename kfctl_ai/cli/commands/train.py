"""`kfai train`: run a custom training script on the cluster (a CustomTrainer TrainJob) or,
with `--local`, on this machine.

Also renders local jobs for `kfai jobs --local` and `kfai logs JOB --local`
(`emit_local_jobs`, `emit_local_logs`).
"""

import shlex
import sys
from collections import deque
from collections.abc import Callable
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from kfctl_ai.cli.preview import Change, preview_and_approve, print_command_line, print_created
from kfctl_ai.cli.completion import complete_runtime_names
from kfctl_ai.cli.registry import command

SCRIPT = "Script"
CLUSTER = "Cluster"
_STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "red", "skipped": "dim"}
_JOB_STYLE = {"Complete": "green", "Failed": "red", "Running": "cyan"}


def _checks_table(console: Console, checks: list[dict[str, Any]]) -> None:
    table = Table(box=None, pad_edge=False)
    for column in ("CHECK", "STATUS", "MESSAGE"):
        table.add_column(column, overflow="fold")
    for check in checks:
        style = _STATUS_STYLE.get(check["status"], "")
        table.add_row(check["name"], f"[{style}]{check['status']}[/]", escape(check["message"]))
    console.print(table)


def render_trainjob(console: Console, change: Change) -> None:
    """Print the TrainJob to create as `+` lines, like `render_change`, but with each multi-line
    string (the shipped script) as a YAML block, so the script reads line by line."""
    import yaml

    class BlockDumper(yaml.SafeDumper):
        pass

    def represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    BlockDumper.add_representer(str, represent_str)
    console.print(Text(f"+ {change.kind} {change.namespace}/{change.name}", style="bold green"))
    text = yaml.dump(change.body, Dumper=BlockDumper, sort_keys=False, width=100, allow_unicode=True)
    for line in text.rstrip("\n").splitlines():
        console.print(Text(f"+   {line}", style="green"))


def render_plan(console: Console, plan: Any) -> None:
    subject = plan.params.script or plan.params.image
    if plan.params.function:
        subject += f" (function {plan.params.function})"
    framework = f", imports {plan.framework}" if plan.framework else ""
    console.print(f"[bold]train:[/bold] {escape(subject)}{escape(framework)}   [bold]runtime:[/bold] {escape(plan.runtime.name)}", highlight=False)
    if plan.checks:
        _checks_table(console, plan.checks_dict())
    for note in plan.notes:
        console.print(f"[dim]{escape(note)}[/dim]", highlight=False)
    console.print()
    render_trainjob(console, Change("create", "TrainJob", plan.name, plan.namespace, plan.preview_object()))
    print_command_line(console, plan.argv())


def _raw_writer(stream: Any) -> Callable[[bytes], None]:
    """Write a job's output bytes straight through, after anything rich has buffered."""

    def write(chunk: bytes) -> None:
        stream.flush()
        stream.buffer.write(chunk)
        stream.buffer.flush()

    return write


def _train_local(session: Any, params: Any, dry_run: bool) -> Any:
    from kfctl_ai.core.local import prepare_local_run, run_local

    output = session.output
    run = prepare_local_run(params)
    for note in run.notes:
        output.warn(note)
    preview = {
        "status": "preview",
        "local": True,
        "job": run.name,
        "command": run.argv(),
        "run": run.command,
        "cwd": str(run.cwd),
        "directory": str(run.directory),
    }
    if dry_run:
        output.emit(preview, lambda console, data: console.print(
            f"Would run local job {data['job']} in {data['cwd']}:\n  {shlex.join(data['run'])}", highlight=False, markup=False))
        return preview

    output.info(f"Running local job {run.name}: {shlex.join(run.command)}")
    output.info(f"Log: {run.directory / 'output.log'}")
    # With -o json/yaml stdout carries only the result document, so the job's output goes to stderr.
    job = run_local(run, _raw_writer(sys.stderr if output.machine else sys.stdout))
    result = {**job.to_dict(), "local": True}
    output.emit(result, lambda console, data: console.print(
        f"Local job {data['name']} is {data['status']} after {data['duration_s']:.1f} s. "
        f"Read its log again with: kfai logs {data['name']} --local", highlight=False, markup=False))
    return result


def register(app: typer.Typer) -> None:
    @command(app, "train", "write")
    def train(
        ctx: typer.Context,
        script: Annotated[Optional[str], typer.Argument(help="Python training script, run unchanged. Optional with --image, whose own entrypoint then trains.", show_default=False)] = None,
        func: Annotated[Optional[str], typer.Option("--func", help="Run this top-level function of SCRIPT instead of the whole script; --arg values become its keyword arguments.", rich_help_panel=SCRIPT)] = None,
        arg: Annotated[Optional[list[str]], typer.Option("--arg", help="KEY=VALUE, repeatable. For a script: the argument --KEY VALUE (KEY= gives a bare --KEY). With --func: keyword argument KEY, a Python literal when it parses as one, else a string.", rich_help_panel=SCRIPT, show_default=False)] = None,
        env: Annotated[Optional[list[str]], typer.Option("--env", help="Environment variable KEY=VALUE for the training processes, repeatable.", rich_help_panel=SCRIPT, show_default=False)] = None,
        local: Annotated[bool, typer.Option("--local", help="Run on this machine with the Python of the active environment (an activated virtualenv or conda environment, else kfai's own); nothing is sent to a cluster.", rich_help_panel=SCRIPT)] = False,
        gpus: Annotated[Optional[int], typer.Option("--gpus", min=1, help="GPUs per node (default: the runtime's). With --local: the number of processes torchrun starts (default 1, no torchrun).", rich_help_panel=CLUSTER)] = None,
        nodes: Annotated[Optional[int], typer.Option("--nodes", min=1, help="Number of nodes (default: the runtime's, 1 upstream).", rich_help_panel=CLUSTER)] = None,
        cpu: Annotated[Optional[str], typer.Option("--cpu", help="CPUs per node, a Kubernetes quantity such as 4 or 500m (default: the runtime's).", rich_help_panel=CLUSTER)] = None,
        memory: Annotated[Optional[str], typer.Option("--memory", help="Memory per node, a Kubernetes quantity such as 16Gi (default: the runtime's).", rich_help_panel=CLUSTER)] = None,
        packages: Annotated[Optional[list[str]], typer.Option("--packages", help="pip requirement to install in the container before training, repeatable (for example transformers==4.46.0).", rich_help_panel=CLUSTER, show_default=False)] = None,
        pip_index_url: Annotated[Optional[list[str]], typer.Option("--pip-index-url", help="Package index for --packages, repeatable: the first is the index URL, the rest extra ones (default: https://pypi.org/simple).", rich_help_panel=CLUSTER, show_default=False)] = None,
        runtime: Annotated[Optional[str], typer.Option("--runtime", autocompletion=complete_runtime_names, help="Runtime to use (default: torch-distributed, or the deepspeed, mlx, jax or xgboost runtime when the script imports that framework).", rich_help_panel=CLUSTER)] = None,
        image: Annotated[Optional[str], typer.Option("--image", help="Container image in place of the runtime's; needs persona ml-engineer or higher.", rich_help_panel=CLUSTER)] = None,
        name: Annotated[Optional[str], typer.Option("--name", help="Job name (default: the script's name and a random suffix).")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Preview only: create or run nothing.")] = False,
        force: Annotated[bool, typer.Option("--force", help="Submit even when the GPU or quota checks say the job does not fit.")] = False,
    ) -> Any:
        """Train with your own PyTorch script, on the cluster or with --local on this machine.

        Example: kfai train examples/train_regression.py --local --arg steps=300
        """
        from kfctl_ai.cli.commands.preflight import cluster_or_none
        from kfctl_ai.core.custom import TrainParams, execute_train, prepare_train

        session = ctx.obj
        session.authorize("train")
        params = TrainParams(
            script=script, function=func, args=list(arg or []), packages=list(packages or []),
            pip_index_urls=list(pip_index_url or []), gpus=gpus, nodes=nodes, cpu=cpu, memory=memory,
            env=list(env or []), runtime=runtime, image=image, name=name, force=force,
        )
        if local:
            return _train_local(session, params, dry_run)

        cluster = None if (dry_run and not session.has_kubeconfig()) else cluster_or_none(session)
        if cluster is None and not dry_run:
            session.cluster()  # raises the "no kubeconfig" error with its hint
        plan = prepare_train(params, cluster, session.namespace(), session.settings.persona)

        preview = {
            "status": "preview",
            "command": plan.argv(),
            "runtime": plan.runtime.name,
            "checks": plan.checks_dict(),
            "notes": plan.notes,
            "changes": [Change("create", "TrainJob", plan.name, plan.namespace, plan.preview_object()).to_dict()],
        }
        question = f"Create TrainJob {plan.namespace}/{plan.name}?"
        if not preview_and_approve(session, preview, question, dry_run, lambda: render_plan(session.output.stdout, plan)):
            return preview

        result = execute_train(plan, cluster or session.cluster())
        session.output.emit(result, print_created)
        return result


# --- `kfai jobs --local` and `kfai logs JOB --local` ----------------------------------


def _local_jobs_table(console: Console, data: dict[str, Any]) -> None:
    jobs = data["jobs"]
    if not jobs:
        where = f" with status {data['status']}" if data.get("status") else ""
        console.print(f"No local jobs{where} in {data['directory']}.", highlight=False, markup=False)
        return
    table = Table(box=None, pad_edge=False)
    for column in ("NAME", "STATUS", "SCRIPT", "PROCESSES", "CREATED", "DURATION", "EXIT"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        style = _JOB_STYLE.get(job["status"], "")
        script = job["script"].rsplit("/", 1)[-1] + (f":{job['function']}" if job.get("function") else "")
        duration = "-" if job.get("duration_s") is None else f"{job['duration_s']:.1f}s"
        exit_code = "-" if job.get("exit_code") is None else str(job["exit_code"])
        table.add_row(job["name"], f"[{style}]{job['status']}[/]", escape(script), str(job["processes"]), job["created"], duration, exit_code)
    console.print(table)


def emit_local_jobs(session: Any, status: str | None) -> dict[str, Any]:
    """Print the jobs that `kfai train --local` ran on this machine, newest first."""
    from kfctl_ai.core.local import jobs_dir, list_local_jobs

    jobs = list_local_jobs(status)
    data = {"local": True, "directory": str(jobs_dir()), "status": status, "jobs": [job.to_dict() for job in jobs]}
    session.output.emit(data, _local_jobs_table)
    return data


def emit_local_logs(session: Any, job: str, follow: bool = False, tail: int | None = None) -> dict[str, Any]:
    """Print a local job's log; with `follow`, stream it until the job ends and exit 8 if it failed."""
    from kfctl_ai.cli.commands.logs import finish_logs, note_truncated
    from kfctl_ai.core.errors import JobFailedError
    from kfctl_ai.core.local import follow_local_log, get_local_job, read_local_log

    output = session.output
    limit = session.max_output
    # Inside `ask` only the last `limit` lines are kept, as `kfai logs` does for cluster jobs.
    kept: deque[str] | list[str] = deque(maxlen=limit) if limit else []
    total = 0
    if follow:
        for line in follow_local_log(job):
            total += 1
            if output.machine or limit:
                kept.append(line)
            else:
                output.lines([line])
    else:
        lines = read_local_log(job, tail)
        total = len(lines)
        kept.extend(lines)

    data: dict[str, Any] = {"job": job, "local": True, "lines": list(kept)}
    note_truncated(output, data, total, limit, follow)
    failure = None
    if follow:
        summary = get_local_job(job)
        data["status"] = summary.status
        if summary.status == "Failed":
            failure = JobFailedError(
                f"local job '{job}' failed: {summary.message or 'see its log lines'}",
                hint=f"its log is {summary.log}",
                job=job,
            )
    printed = follow and not output.machine and not limit
    return finish_logs(output, data, printed, failure)
