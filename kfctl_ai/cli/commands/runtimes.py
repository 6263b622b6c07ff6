"""`kfai runtimes`: which TrainingRuntimes exist and which fit a model."""

from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from kfctl_ai.cli.completion import complete_model_names, complete_runtime_names
from kfctl_ai.cli.registry import RISKS, command
from kfctl_ai.core.errors import NotFoundError


def _table(console: Console, data: dict[str, Any]) -> None:
    rows = data["runtimes"]
    if not rows:
        console.print("No runtimes found." if not data.get("model") else f"No runtime can train {data['model']}.")
        return
    from rich.table import Table  # off the start-up path: only tables need it

    table = Table(box=None, pad_edge=False)
    ranked = data.get("model") is not None
    columns = ("NAME", "FRAMEWORK", "NODES", "GPUS/NODE", "MODEL") + (("FIT",) if ranked else ("IMAGE",))
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        cells = [row["name"], row["framework"], str(row["num_nodes"]), str(row["gpus_per_node"]), row.get("model") or "-"]
        cells.append(row["reason"] if ranked else row.get("image") or "-")
        table.add_row(*cells)
    console.print(table)
    if data.get("source") == "upstream":
        console.print("[dim]No cluster configured: these are the runtimes Kubeflow Trainer v2.3.0 installs.[/dim]")


def _show_table(console: Console, data: dict[str, Any]) -> None:
    for key in ("name", "kind", "framework", "trainer_type", "image", "num_nodes", "gpus_per_node", "model", "torchtune_config", "dataset"):
        value = data.get(key)
        console.print(f"[bold]{key.replace('_', ' ')}:[/bold] {value if value not in (None, '') else '-'}", highlight=False)
    console.print(f"[bold]command:[/bold] {escape(' '.join(data.get('command') or []) or '-')}", highlight=False)
    if data.get("models"):
        console.print(f"[bold]serves:[/bold] {', '.join(data['models'])}", highlight=False)


def available_runtimes(session: Any) -> tuple[list[Any], str]:
    """Return the cluster's runtimes, or the upstream ones when no cluster is configured."""
    from kfctl_ai.core.runtimes import parse_runtimes, upstream_runtimes

    if not session.has_kubeconfig():
        return upstream_runtimes(), "upstream"
    return parse_runtimes(session.cluster().list_runtime_objects()), "cluster"


def register(app: typer.Typer) -> None:
    group = typer.Typer(invoke_without_command=True, no_args_is_help=False)
    RISKS["runtimes"] = "read"

    @group.callback()
    def runtimes(
        ctx: typer.Context,
        model: Annotated[Optional[str], typer.Option("--model", autocompletion=complete_model_names, help="Rank the runtimes that can train this model (e.g. 'llama 3.2 1b').")] = None,
        framework: Annotated[Optional[str], typer.Option("--framework", help="Only runtimes of this framework (torchtune, torch, deepspeed, mlx, jax, xgboost).")] = None,
    ) -> Any:
        """List ClusterTrainingRuntimes and TrainingRuntimes; with --model, rank those that fit.

        Example: kfai runtimes --model "qwen2.5 1.5b"
        """
        if ctx.invoked_subcommand is not None:
            return None
        session = ctx.obj
        session.authorize("runtimes")
        found, source = available_runtimes(session)
        if framework:
            found = [r for r in found if r.framework == framework.lower()]

        resolved_id = None
        note = None
        if model:
            from kfctl_ai.core.models import resolve_model
            from kfctl_ai.core.runtimes import rank_for_model, runtime_model_ids

            resolved = resolve_model(model, runtime_model_ids(found))
            resolved_id, note = resolved.id, resolved.note
            rows = [match.to_dict() for match in rank_for_model(found, resolved.id)]
        else:
            rows = [r.to_dict() for r in found]

        data = {"model": resolved_id, "source": source, "namespace": session.namespace(), "runtimes": rows}
        if note:
            session.output.info(note)
        session.output.emit(data, _table)
        return data

    @command(group, "runtimes show", "read")
    def show(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="Runtime name, e.g. torchtune-llama3.2-1b.", autocompletion=complete_runtime_names)],
    ) -> Any:
        """Show one runtime: framework, image, nodes, GPUs per node, command and the model it serves.

        Example: kfai runtimes show torchtune-llama3.2-1b
        """
        session = ctx.obj
        session.authorize("runtimes show")
        found, source = available_runtimes(session)
        match = next((r for r in found if r.name == name), None)
        if match is None:
            import difflib

            close = difflib.get_close_matches(name, [r.name for r in found], n=3, cutoff=0.5)
            suggestion = f"did you mean {', '.join(close)}? " if close else ""
            raise NotFoundError(
                f"runtime '{name}' not found" + (" in the upstream runtimes" if source == "upstream" else f" in namespace '{session.namespace()}' or the cluster"),
                hint=f"{suggestion}list them with `kfai runtimes`",
            )
        data = match.to_dict()
        data["models"] = [match.model] if match.model else []
        data["source"] = source
        session.output.emit(data, _show_table)
        return data

    app.add_typer(group, name="runtimes")
