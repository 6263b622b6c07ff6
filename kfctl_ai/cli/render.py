"""Human renderings of preflight reports and fine-tune previews."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

_STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "red", "skipped": "dim"}
_VERDICT_STYLE = {"fits": "bold green", "tight": "bold yellow", "does_not_fit": "bold red", "unknown": "bold"}


def preflight_table(console: Console, data: dict[str, Any]) -> None:
    memory = data["memory"]
    gpu = data.get("gpu") or {}
    runtime = data.get("runtime") or "-"
    console.print(f"[bold]model:[/bold] {escape(data['model'])}   [bold]runtime:[/bold] {escape(runtime)}", highlight=False)
    setup = data.get("setup") or {}
    described = ", ".join(f"{k}={v}" for k, v in setup.items() if v is not None)
    console.print(f"[bold]setup:[/bold] {escape(described)}", highlight=False)

    from rich.table import Table  # off the start-up path: only tables need it

    breakdown = Table(box=None, pad_edge=False, show_header=True)
    breakdown.add_column("MEMORY PER GPU")
    breakdown.add_column("GiB", justify="right")
    for key, value in memory["breakdown"].items():
        breakdown.add_row(key, f"{value:.2f}")
    breakdown.add_row("[bold]total[/bold]", f"[bold]{memory['per_gpu_gib']:.2f}[/bold]")
    console.print(breakdown)

    if gpu.get("memory_gib"):
        product = gpu.get("product") or "GPU"
        console.print(f"[bold]gpu:[/bold] {escape(str(product))} with {gpu['memory_gib']:.1f} GiB (from {gpu.get('source')})", highlight=False)
    verdict = data["verdict"]
    console.print(f"[bold]verdict:[/bold] [{_VERDICT_STYLE[verdict]}]{verdict}[/]")

    checks = Table(box=None, pad_edge=False)
    checks.add_column("CHECK")
    checks.add_column("STATUS")
    checks.add_column("MESSAGE", overflow="fold")
    for check in data["checks"]:
        style = _STATUS_STYLE.get(check["status"], "")
        checks.add_row(check["name"], f"[{style}]{check['status']}[/]", escape(check["message"]))
    console.print(checks)

    if data.get("fixes"):
        console.print("[bold]fixes[/bold] (each re-estimated):")
        for fix in data["fixes"]:
            mark = "[green]fits[/green]" if fix.get("fits") else "[red]still too big[/red]"
            console.print(f"  - {escape(fix['title'])}: {fix['per_gpu_gib']:.1f} GiB per GPU, {mark}", highlight=False)
    for note in data.get("notes") or []:
        console.print(f"[dim]{escape(note)}[/dim]")
