"""`kfai jobs`: list, show, wait for and delete TrainJobs."""

from typing import Annotated, Any, Optional, Literal

import typer
from rich.console import Console
from rich.markup import escape

from kfctl_ai.cli.preview import Change, preview_and_approve, print_command_line, render_change
from kfctl_ai.cli.completion import complete_job_names
from kfctl_ai.cli.registry import RISKS, command

_STATUS_STYLE = {"Complete": "green", "Failed": "red", "Running": "cyan", "Created": "yellow"}


def _list_table(console: Console, data: dict[str, Any]) -> None:
    jobs = data["jobs"]
    if not jobs:
        console.print(f"No TrainJobs in namespace '{data['namespace']}'" + (f" with status {data['status']}." if data.get("status") else "."))
        return
    from rich.table import Table  # off the start-up path: only tables need it

    table = Table(box=None, pad_edge=False)
    for column in ("NAME", "STATUS", "RUNTIME", "MODEL", "CREATED", "STEPS"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        style = _STATUS_STYLE.get(job["status"], "")
        steps = " ".join(f"{s['name']}:{s['phase']}" for s in job["steps"])
        model = (job.get("model") or "-").removeprefix("hf://")
        table.add_row(job["name"], f"[{style}]{job['status']}[/]", job["runtime"], escape(model), job["created"], escape(steps))
    console.print(table)


def _show_table(console: Console, data: dict[str, Any]) -> None:
    job = data["job"]
    for key in ("name", "namespace", "status", "runtime", "model", "dataset", "created", "message"):
        if job.get(key):
            console.print(f"[bold]{key}:[/bold] {escape(str(job[key]))}", highlight=False)
    console.print(f"[bold]managed by kfai:[/bold] {'yes' if job['managed_by_kfai'] else 'no'}")
    if job["steps"]:
        from rich.table import Table  # off the start-up path: only tables need it

        table = Table(box=None, pad_edge=False, title_justify="left")
        for column in ("STEP", "POD", "PHASE", "GPUS"):
            table.add_column(column)
        for step in job["steps"]:
            table.add_row(step["name"], step["pod"], step["phase"], str(step["gpus"]))
        console.print(table)
    if data["events"]:
        console.print("[bold]events:[/bold]")
        for event in data["events"]:
            console.print(f"  {event['time']}  {event['object']}  {event['reason']}: {escape(event['message'])}", highlight=False)


def register(app: typer.Typer) -> None:
    group = typer.Typer(invoke_without_command=True, no_args_is_help=False)
    RISKS["jobs"] = "read"

    @group.callback()
    def jobs(
        ctx: typer.Context,
        status: Annotated[Optional[Literal["Created", "Running", "Complete", "Failed"]], typer.Option("--status", help="Only jobs with this status.")] = None,
        local: Annotated[bool, typer.Option("--local", help="List the jobs that `kfai train --local` ran on this machine.")] = False,
    ) -> Any:
        """List TrainJobs in the namespace, newest first.

        Example: kfai jobs --status Failed -n team-a
        """
        if ctx.invoked_subcommand is not None:
            return None
        from kfctl_ai.core.jobs import list_jobs

        session = ctx.obj
        session.authorize("jobs")
        if local:
            from kfctl_ai.cli.commands.train import emit_local_jobs

            return emit_local_jobs(session, status)
        cluster = session.cluster()
        summaries = list_jobs(cluster, status)
        data = {"namespace": cluster.namespace, "status": status, "jobs": [s.to_dict() for s in summaries]}
        session.output.emit(data, _list_table)
        return data

    @command(group, "jobs show", "read")
    def show(ctx: typer.Context, job: Annotated[str, typer.Argument(help="TrainJob name.", autocompletion=complete_job_names)]) -> Any:
        """Show one TrainJob with its steps and events.

        Example: kfai jobs show llama-3-2-1b-alpaca-5c1e9
        """
        from kfctl_ai.core.jobs import get_job, job_events
        from kfctl_ai.core.names import validate_trainjob_name

        session = ctx.obj
        session.authorize("jobs show")
        validate_trainjob_name(job)  # an invalid name is exit 2 even without a kubeconfig
        cluster = session.cluster()
        summary = get_job(cluster, job)
        data = {"job": summary.to_dict(), "events": job_events(cluster, summary)}
        session.output.emit(data, _show_table)
        return data

    @command(group, "jobs wait", "read")
    def wait(
        ctx: typer.Context,
        job: Annotated[str, typer.Argument(help="TrainJob name.", autocompletion=complete_job_names)],
        timeout: Annotated[float, typer.Option("--timeout", min=0, help="Seconds to wait before giving up (exit 124).")] = 3600.0,
    ) -> Any:
        """Block until a TrainJob is Complete (exit 0) or Failed (exit 8).

        Example: kfai jobs wait llama-3-2-1b-alpaca-5c1e9 --timeout 7200
        """
        from kfctl_ai.core.jobs import wait_for_job
        from kfctl_ai.core.names import validate_trainjob_name

        session = ctx.obj
        session.authorize("jobs wait")
        validate_trainjob_name(job)
        cluster = session.cluster()
        summary = wait_for_job(
            cluster, job, timeout, on_status=lambda s: session.output.info(f"TrainJob {s.name}: {s.status}")
        )
        data = summary.to_dict()
        session.output.emit(data, lambda console, d: console.print(f"TrainJob {d['name']} is {d['status']}."))
        return data

    @command(group, "jobs delete", "delete")
    def delete(
        ctx: typer.Context,
        job: Annotated[str, typer.Argument(help="TrainJob name.", autocompletion=complete_job_names)],
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Preview only: delete nothing.")] = False,
    ) -> Any:
        """Delete a TrainJob and its pods, after a preview and your approval.

        Example: kfai jobs delete old-run-7
        """
        from kfctl_ai.core.jobs import delete_job, get_job
        from kfctl_ai.core.names import validate_trainjob_name
        from kfctl_ai.core.personas import check_delete_job

        session = ctx.obj
        session.authorize("jobs delete")
        validate_trainjob_name(job)
        cluster = session.cluster()
        summary = get_job(cluster, job)
        check_delete_job(session.settings.persona, job, summary.managed_by_kfai)

        body = {k: summary.to_dict()[k] for k in ("status", "runtime", "model", "dataset", "created")}
        change = Change("delete", "TrainJob", job, cluster.namespace, body)
        argv = ["kfai", "jobs", "delete", job, "-n", cluster.namespace]
        preview = {"status": "preview", "command": argv, "changes": [change.to_dict()]}
        def render() -> None:
            render_change(session.output.stdout, change)
            print_command_line(session.output.stdout, argv)

        question = f"Delete TrainJob {cluster.namespace}/{job}?"
        if not preview_and_approve(session, preview, question, dry_run, render, outcome="deleted"):
            return preview

        delete_job(cluster, job)
        data = {"status": "deleted", "job": job, "namespace": cluster.namespace}
        session.output.emit(data, lambda console, d: console.print(f"Deleted TrainJob {d['namespace']}/{d['job']}."))
        return data

    app.add_typer(group, name="jobs")
