"""`kfai cluster gpus`: GPU nodes with their product, memory, and free GPUs."""

from typing import Any

import typer
from rich.console import Console

from kfctl_ai.cli.registry import command


def _table(console: Console, data: dict[str, Any]) -> None:
    if not data["nodes"]:
        console.print("No GPU nodes in the cluster.")
        return
    from rich.table import Table  # off the start-up path: only tables need it

    table = Table(box=None, pad_edge=False)
    for column in ("NODE", "GPU", "MEMORY GiB", "ALLOCATABLE", "REQUESTED", "FREE"):
        table.add_column(column)
    for node in data["nodes"]:
        memory = f"{node['memory_gib']:.1f}" if node["memory_gib"] else "-"
        table.add_row(node["name"], node["product"] or "-", memory, str(node["allocatable"]), str(node["requested"]), str(node["free"]))
    console.print(table)
    total = data["total"]
    console.print(f"{total['free']} of {total['allocatable']} GPUs free.")


def register(app: typer.Typer) -> None:
    group = typer.Typer(no_args_is_help=True)

    @command(group, "cluster gpus", "read")
    def gpus(ctx: typer.Context) -> Any:
        """List GPU nodes: product, memory per GPU, and GPUs allocatable, requested and free.

        Example: kfai cluster gpus -o json
        """
        from kfctl_ai.core.checks import gpu_nodes

        session = ctx.obj
        session.authorize("cluster gpus")
        nodes = gpu_nodes(session.cluster())
        rows = [
            {"name": n.name, "product": n.product, "memory_gib": n.memory_gib, "allocatable": n.allocatable, "requested": n.requested, "free": n.free}
            for n in nodes
        ]
        data = {
            "nodes": rows,
            "total": {"allocatable": sum(n.allocatable for n in nodes), "free": sum(n.free for n in nodes)},
        }
        session.output.emit(data, _table)
        return data

    app.add_typer(group, name="cluster", help="What the cluster has: GPU nodes and free GPUs.")
