"""`kfai preflight`: predict GPU memory per GPU and check the cluster before any pod exists."""

from typing import Annotated, Any

import typer

from kfctl_ai.cli import options as opt
from kfctl_ai.cli.completion import complete_model_names
from kfctl_ai.cli.registry import command
from kfctl_ai.cli.render import preflight_table
from kfctl_ai.core.errors import ExitCode


def cluster_or_none(session: Any) -> Any | None:
    """Return the configured cluster, or None when there is no kubeconfig at all (estimate only)."""
    if not session.has_kubeconfig():
        return None
    return session.cluster()


def register(app: typer.Typer) -> None:
    @command(app, "preflight", "read")
    def preflight(
        ctx: typer.Context,
        model: Annotated[str, typer.Argument(autocompletion=complete_model_names, help="Model as you would say it ('llama 3.2 3b') or a Hugging Face id.")],
        method: opt.Method = None,
        lora_rank: opt.LoraRank = None,
        lora_targets: opt.LoraTargets = None,
        dtype: opt.Dtype = None,
        optimizer: opt.Optimizer = None,
        batch_size: opt.BatchSize = None,
        seq_len: opt.SeqLen = None,
        gradient_checkpointing: opt.GradientCheckpointing = None,
        loss: opt.Loss = None,
        gpus: opt.Gpus = None,
        nodes: opt.Nodes = None,
        gpu_memory: opt.GpuMemory = None,
        gpu_type: opt.GpuType = None,
        model_config: opt.ModelConfig = None,
        runtime: opt.Runtime = None,
        hf_token_secret: opt.HfTokenSecret = None,
    ) -> Any:
        """Estimate GPU memory per GPU and check GPUs, quotas, permissions and the runtime.

        Exits 3 when the job does not fit (memory, GPUs or quota), and otherwise with the
        code of the first failed check (4: runtime or namespace not found, 6: forbidden).

        Example: kfai preflight "llama 3.1 8b" --method lora --gpus 1
        """
        from kfctl_ai.core.preflight import PreflightRequest, run_preflight

        session = ctx.obj
        session.authorize("preflight")
        request = PreflightRequest(
            model=model, method=method, lora_rank=lora_rank, lora_targets=lora_targets, dtype=dtype,
            optimizer=optimizer, batch_size=batch_size, seq_len=seq_len,
            gradient_checkpointing=gradient_checkpointing, loss=loss, gpus=gpus, nodes=nodes,
            gpu_memory=gpu_memory, gpu_type=gpu_type, model_config=model_config, runtime=runtime,
            hf_token_secret=hf_token_secret,
        )
        report = run_preflight(request, cluster_or_none(session))
        data = report.to_dict()
        session.output.emit(data, preflight_table)
        if report.verdict == "does_not_fit":
            raise typer.Exit(int(ExitCode.DOES_NOT_FIT))
        blocking = report.blocking_error()
        if blocking is not None:
            # The report is printed. The exit code names the check that would stop a submission.
            raise typer.Exit(int(blocking.exit_code))
        return data
