"""`kfai logs`: the logs of one TrainJob step, streamed with -f until the job ends."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from kfctl_ai.cli.registry import command


def register(app: typer.Typer) -> None:
    @command(app, "logs", "read")
    def logs(
        ctx: typer.Context,
        job: Annotated[str, typer.Argument(help="TrainJob name.")],
        step: Annotated[str, typer.Option("--step", help="Step: node-0, node-1, dataset-initializer, model-initializer.")] = "node-0",
        follow: Annotated[bool, typer.Option("-f", "--follow", help="Stream until the step ends; waits for a Pending pod. Exits 8 if the job failed.")] = False,
        tail: Annotated[Optional[int], typer.Option("--tail", min=1, help="Only the last N lines (without -f).")] = None,
        wait_timeout: Annotated[float, typer.Option("--wait-timeout", min=0, help="Seconds to wait for a Pending pod with -f.")] = 600.0,
    ) -> Any:
        """Print the logs of a TrainJob step (default node-0).

        Example: kfai logs llama-3-2-1b-alpaca-5c1e9 -f
        """
        from kfctl_ai.core.errors import JobFailedError
        from kfctl_ai.core.jobs import get_job
        from kfctl_ai.core.logs import follow_logs, read_logs

        session = ctx.obj
        session.authorize("logs")
        cluster = session.cluster()
        output = session.output
        limit = getattr(session, "max_output", None)

        if not follow:
            lines = read_logs(cluster, job, step, tail)
        else:
            stream = follow_logs(
                cluster, job, step, wait_timeout,
                on_wait=lambda state: output.info(f"waiting: {state}"),
                on_reconnect=lambda n: output.info(f"log stream dropped; reconnecting (attempt {n})"),
            )
            lines = []
            for line in stream:
                if output.machine or limit:
                    lines.append(line)
                else:
                    output.line(line)

        data = {"job": job, "step": step, "lines": lines}
        if limit and len(lines) > limit:
            data["truncated"] = len(lines) - limit
            data["lines"] = lines[-limit:]
        if output.machine or not follow or limit:
            if data.get("truncated"):
                output.info(f"... {data['truncated']} earlier lines cut (raise --max-output to see more)")
            output.emit(data, lambda console, d: [output.line(line) for line in d["lines"]])

        if follow:
            summary = get_job(cluster, job)
            data["status"] = summary.status
            if summary.status == "Failed":
                raise JobFailedError(
                    f"TrainJob '{job}' failed: {summary.message or 'see the lines above'}",
                    hint=f"see its events with `kfai jobs show {job}`",
                    job=job,
                )
        return data
