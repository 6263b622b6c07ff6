"""`kfai logs`: the logs of one TrainJob step, streamed with -f until the job ends."""

import shlex
from collections import deque
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from kfctl_ai.cli.completion import complete_job_names
from kfctl_ai.cli.registry import command

if TYPE_CHECKING:
    from kfctl_ai.cli.output import Output
    from kfctl_ai.core.errors import JobFailedError

# After the followed container stops, how long to wait for the TrainJob's own verdict.
FINAL_STATUS_TIMEOUT_S = 30.0


def register(app: typer.Typer) -> None:
    @command(app, "logs", "read")
    def logs(
        ctx: typer.Context,
        job: Annotated[str, typer.Argument(help="TrainJob name.", autocompletion=complete_job_names)],
        step: Annotated[str, typer.Option("--step", help="Step: node-0, node-1, dataset-initializer, model-initializer.")] = "node-0",
        follow: Annotated[bool, typer.Option("-f", "--follow", help="Stream until the step ends; waits for a Pending pod. Exits 8 if the job failed.")] = False,
        tail: Annotated[Optional[int], typer.Option("--tail", min=1, help="Only the last N lines (without -f).")] = None,
        wait_timeout: Annotated[float, typer.Option("--wait-timeout", min=0, help="Seconds to wait for a Pending pod with -f.")] = 600.0,
        local: Annotated[bool, typer.Option("--local", help="Read a job that `kfai train --local` ran on this machine (--step does not apply).")] = False,
    ) -> Any:
        """Print the logs of a TrainJob step (default node-0).

        Example: kfai logs llama-3-2-1b-alpaca-5c1e9 -f
        """
        from kfctl_ai.core.logs import follow_log_batches, read_logs

        session = ctx.obj
        session.authorize("logs")
        if follow and tail is not None:
            # NOTE: following from the last N lines, as `kubectl logs -f --tail N` does, needs
            # `follow_log_batches` to send tailLines and to skip the same lines after a reconnect.
            from kfctl_ai.core.errors import UsageError

            raise UsageError(
                "--tail cannot be combined with -f/--follow",
                hint="drop --tail to follow the whole log, or drop -f to print only its last lines once",
            )
        if local:
            from kfctl_ai.cli.commands.train import emit_local_logs

            return emit_local_logs(session, job, follow, tail)
        cluster = session.cluster()
        output = session.output
        limit = session.max_output

        # Inside `ask` only the last `limit` lines are kept; a plain `logs -f` prints as it reads.
        kept: deque[str] | list[str] = deque(maxlen=limit) if limit else []
        total = 0
        if not follow:
            lines = read_logs(cluster, job, step, tail)
            total = len(lines)
            kept.extend(lines)
        else:
            batches = follow_log_batches(
                cluster, job, step, wait_timeout,
                on_wait=lambda state: output.info(f"waiting: {state}"),
                on_reconnect=lambda n: output.info(f"log stream dropped; reconnecting (attempt {n})"),
            )
            for batch in batches:
                total += len(batch)
                if output.machine or limit:
                    kept.extend(batch)
                else:
                    output.lines(batch)

        data: dict[str, Any] = {"job": job, "step": step, "lines": list(kept)}
        note_truncated(output, data, total, limit, follow)
        failure = None
        if follow:
            data["status"], failure = _final_status(cluster, job)
        printed = follow and not output.machine and not limit
        return finish_logs(output, data, printed, failure)


def note_truncated(output: "Output", data: dict[str, Any], total: int, limit: int | None, follow: bool) -> None:
    """Record and report how many earlier lines `data["lines"]` left out, when it left some out."""
    if total > len(data["lines"]) and (limit or not follow):
        data["truncated"] = total - len(data["lines"])
        output.info(f"... {data['truncated']} earlier lines cut (raise --max-output to see more)")


def finish_logs(output: "Output", data: dict[str, Any], printed: bool, failure: "JobFailedError | None") -> dict[str, Any]:
    """Print the log document unless its lines were `printed` as they arrived, then raise `failure` if any.

    Under -o json the error document is the only document on stdout, so a failed job's log
    fields (without its status) go into that document instead of a document of their own.
    """
    if failure is not None and output.format == "json":
        failure.details.update({key: value for key, value in data.items() if key != "status"})
        raise failure
    if not printed:
        output.emit(data, lambda console, d: output.lines(d["lines"]))
    if failure is not None:
        raise failure
    return data


def _final_status(cluster: Any, job: str) -> "tuple[str, JobFailedError | None]":
    """Wait briefly for the controller's verdict once the followed step has ended.

    Return the job's status and, when the job failed, the error to raise.
    """
    from kfctl_ai.core.errors import JobFailedError, TimedOutError
    from kfctl_ai.core.jobs import get_job, wait_for_job

    hint = f"see its events with `kfai jobs show {shlex.quote(job)}`"
    try:
        return wait_for_job(cluster, job, FINAL_STATUS_TIMEOUT_S, poll_interval=0.5).status, None
    except JobFailedError as exc:
        # The message names the reason from the job's Failed condition, as `jobs wait` does.
        return "Failed", JobFailedError(exc.message, hint=hint, job=job)
    except TimedOutError:
        status = get_job(cluster, job).status
        failure = JobFailedError(f"TrainJob '{job}' failed", hint=hint, job=job) if status == "Failed" else None
        return status, failure
