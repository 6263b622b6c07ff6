"""`kfai logs`: the logs of one TrainJob step, streamed with -f until the job ends."""

from __future__ import annotations

from collections import deque
from typing import Annotated, Any, Optional

import typer

from kfctl_ai.cli.completion import complete_job_names
from kfctl_ai.cli.registry import command

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
        if total > len(kept) and (limit or not follow):
            data["truncated"] = total - len(kept)
            output.info(f"... {data['truncated']} earlier lines cut (raise --max-output to see more)")
        if follow:
            data["status"] = _final_status(cluster, job)
        if output.machine or not follow or limit:
            output.emit(data, lambda console, d: output.lines(d["lines"]))
        if follow and data["status"] == "Failed":
            from kfctl_ai.core.errors import JobFailedError

            raise JobFailedError(
                f"TrainJob '{job}' failed",
                hint=f"see its events with `kfai jobs show {job}`",
                job=job,
            )
        return data


def _final_status(cluster: Any, job: str) -> str:
    """Return the job's status once the followed step has ended, waiting briefly for the controller."""
    from kfctl_ai.core.errors import JobFailedError, TimedOutError
    from kfctl_ai.core.jobs import wait_for_job

    try:
        return wait_for_job(cluster, job, FINAL_STATUS_TIMEOUT_S, poll_interval=0.5).status
    except JobFailedError:
        return "Failed"
    except TimedOutError:
        from kfctl_ai.core.jobs import get_job

        return get_job(cluster, job).status
