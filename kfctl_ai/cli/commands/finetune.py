"""`kfai fine-tune`: a BuiltinTrainer (torchtune) TrainJob, previewed and approved first."""

from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from kfctl_ai.cli import options as opt
from kfctl_ai.cli.preview import Change, preview_and_approve, print_command_line, print_created, render_change
from kfctl_ai.cli.completion import complete_dataset_names, complete_model_names
from kfctl_ai.cli.registry import command
from kfctl_ai.cli.render import preflight_table


def render_plan(console: Console, plan: Any, dry_run: bool = False) -> None:
    preflight_table(console, plan.preflight.to_dict())
    console.print()
    change = Change("create", "TrainJob", plan.request.name, plan.request.namespace, plan.trainjob)
    render_change(console, change)
    print_command_line(console, plan.argv())


def register(app: typer.Typer) -> None:
    @command(app, "fine-tune", "write")
    def fine_tune(
        ctx: typer.Context,
        model: Annotated[str, typer.Argument(autocompletion=complete_model_names, help="Model as you would say it ('llama 3.2 1b') or a Hugging Face id.")],
        dataset: Annotated[str, typer.Option("--dataset", autocompletion=complete_dataset_names, help="Dataset name (alpaca, dolly, gsm8k) or hf://org/name.")],
        epochs: Annotated[Optional[int], typer.Option("--epochs", min=1, help="Training epochs (default: the runtime's recipe, 1 upstream).")] = None,
        name: Annotated[Optional[str], typer.Option("--name", help="TrainJob name (default: model-dataset-xxxxx).")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Preview only: create nothing.")] = False,
        force: Annotated[bool, typer.Option("--force", help="Submit even when preflight reports that it does not fit (memory, GPUs or quota).")] = False,
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
        runtime: opt.Runtime = None,
        hf_token_secret: opt.HfTokenSecret = None,
    ) -> Any:
        """Fine-tune a model with torchtune on the runtime that serves it; runs preflight first.

        Example: kfai fine-tune "llama 3.2 1b" --dataset alpaca --epochs 3
        """
        from kfctl_ai.cli.commands.preflight import cluster_or_none
        from kfctl_ai.core.finetune import FineTuneParams, execute_fine_tune, prepare_fine_tune

        session = ctx.obj
        session.authorize("fine-tune")
        params = FineTuneParams(
            model=model, dataset=dataset, epochs=epochs, name=name, force=force, method=method,
            lora_rank=lora_rank, lora_targets=lora_targets, dtype=dtype, optimizer=optimizer,
            batch_size=batch_size, seq_len=seq_len, gradient_checkpointing=gradient_checkpointing,
            loss=loss, gpus=gpus, nodes=nodes, runtime=runtime, hf_token_secret=hf_token_secret,
        )
        cluster = None if (dry_run and not session.has_kubeconfig()) else cluster_or_none(session)
        if cluster is None and not dry_run:
            session.cluster()  # raises the "no kubeconfig" error with its hint
        plan = prepare_fine_tune(params, cluster, session.namespace())

        preview = {
            "status": "preview",
            "command": plan.argv(),
            "preflight": plan.preflight.to_dict(),
            "changes": [Change("create", "TrainJob", plan.request.name, plan.request.namespace, plan.trainjob).to_dict()],
        }
        question = f"Create TrainJob {plan.request.namespace}/{plan.request.name}?"
        if not preview_and_approve(session, preview, question, dry_run, lambda: render_plan(session.output.stdout, plan)):
            return preview

        result = execute_fine_tune(plan, cluster or session.cluster())
        session.output.emit(result, print_created)
        return result
