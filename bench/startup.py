"""Measure kfai's start-up time against `python -c "import typer"`.

Run `python bench/startup.py [--runs N] [--kfai COMMAND]`. Each command runs once to
warm the bytecode cache, then N times (default 15). The runs go round-robin, so a slow
moment of the machine hits every command alike. The script prints the median and min wall
time of each command and the ratio of each to the typer import. It also prints the heavy
packages each command imported, read from `sys.modules` in a separate run.

The commands run with a temporary HOME and XDG directories, without `KFAI_*`, `KUBECONFIG`
and `OPENAI_*` variables, so `ask --plan-only` uses the offline planner and no cluster.

Targets: `--version` at most 2x the typer import, `--help` and `ask --plan-only` at most 4x.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SENTENCE = "train llama 3.2 on alpaca, 3 epochs"
# Packages that DESIGN.md keeps off `--help` and `--version`, plus the ones whose import
# time matters on the offline planning path.
HEAVY_PACKAGES = ("kubeflow", "kubernetes", "litellm", "questionary", "yaml", "pydantic", "typer", "rich")
PROBE = """
import json, sys
kfai_args, packages, report = json.loads(sys.argv[1]), set(json.loads(sys.argv[2])), sys.argv[3]
sys.argv = ["kfai", *kfai_args]
from kfctl_ai.cli import main as entry
try:
    entry.run(kfai_args)
finally:
    with open(report, "w") as out:
        json.dump(sorted({name.split(".")[0] for name in sys.modules} & packages), out)
"""


@dataclass
class Case:
    label: str
    argv: list[str]
    target: float | None  # highest allowed ratio to the baseline median, None for the baseline


def default_kfai_command() -> list[str]:
    """Return the `kfai` console script of this interpreter's environment."""
    script = Path(sys.executable).with_name("kfai")
    if not script.exists():
        sys.exit(f"error: no kfai script next to {sys.executable}; install kfai (pip install -e .) or pass --kfai")
    return [str(script)]


def clean_environment(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KFAI_", "KUBECONFIG", "OPENAI_"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        NO_COLOR="1",
        # Measure with a bytecode cache, as a pip-installed kfai has one. The cache goes to
        # the temporary directory, so the checkout gets no __pycache__ folders.
        PYTHONPYCACHEPREFIX=str(home / "pycache"),
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def time_once(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    completed = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        sys.exit(
            f"error: `{shlex.join(argv)}` exited with code {completed.returncode}:\n"
            + completed.stderr.decode(errors="replace")[-2000:]
        )
    return elapsed


def imported_heavy_packages(kfai_args: list[str], env: dict[str, str], scratch: Path) -> list[str]:
    """Return which of HEAVY_PACKAGES a kfai command line imports, by running it in a probe."""
    report = scratch / "modules.json"
    subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(kfai_args), json.dumps(HEAVY_PACKAGES), str(report)],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120, check=False,
        cwd=scratch,  # `python -c` puts the working directory first on sys.path
    )
    return json.loads(report.read_text()) if report.exists() else ["(probe failed)"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command (default: 15)")
    parser.add_argument("--kfai", help="command that starts kfai, for example 'python -m kfctl_ai' (default: the kfai script)")
    options = parser.parse_args()
    if options.runs < 1:
        parser.error("--runs must be at least 1")
    kfai = shlex.split(options.kfai) if options.kfai else default_kfai_command()

    cases = [
        Case("python -c 'import typer' (baseline)", [sys.executable, "-c", "import typer"], None),
        Case("kfai --version", [*kfai, "--version"], 2.0),
        Case("kfai --help", [*kfai, "--help"], 4.0),
        Case("kfai ask --plan-only (offline)", [*kfai, "ask", "--plan-only", SENTENCE], 4.0),
    ]

    with tempfile.TemporaryDirectory(prefix="kfai-bench-startup-") as scratch:
        home = Path(scratch)
        env = clean_environment(home)
        for case in cases:
            time_once(case.argv, env)  # warm-up: bytecode cache, page cache
        samples: dict[str, list[float]] = {case.label: [] for case in cases}
        for _ in range(options.runs):
            for case in cases:
                samples[case.label].append(time_once(case.argv, env))
        heavy = {
            "kfai --version": imported_heavy_packages(["--version"], env, home),
            "kfai --help": imported_heavy_packages(["--help"], env, home),
            "kfai ask --plan-only (offline)": imported_heavy_packages(["ask", "--plan-only", SENTENCE], env, home),
        }

    baseline = cases[0]
    base_median = statistics.median(samples[baseline.label])
    base_min = min(samples[baseline.label])
    print(f"kfai start-up, {options.runs} runs each after one warm-up; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"kfai command: {shlex.join(kfai)}")
    print()
    header = f"{'command':<38} {'median s':>9} {'min s':>7} {'x median':>9} {'x min':>6} {'target':>7}  result"
    print(header)
    print("-" * len(header))
    verdicts = []
    for case in cases:
        median = statistics.median(samples[case.label])
        fastest = min(samples[case.label])
        if case.target is None:
            print(f"{case.label:<38} {median:>9.3f} {fastest:>7.3f} {'1.00':>9} {'1.00':>6} {'':>7}")
            continue
        ratio = median / base_median
        met = ratio <= case.target
        verdicts.append((case.label, ratio, case.target, met))
        print(
            f"{case.label:<38} {median:>9.3f} {fastest:>7.3f} {ratio:>9.2f} {fastest / base_min:>6.2f}"
            f" {'<= ' + format(case.target, 'g') + 'x':>7}  {'met' if met else 'MISSED'}"
        )
    print()
    print("heavy packages imported (of " + ", ".join(HEAVY_PACKAGES) + "):")
    for label, packages in heavy.items():
        print(f"  {label:<36} {', '.join(packages) or 'none'}")
    print()
    met_count = sum(1 for *_, met in verdicts if met)
    print(f"summary: {met_count} of {len(verdicts)} start-up targets met (ratio of medians to the typer import)")
    for label, ratio, target, met in verdicts:
        print(f"  {label}: {ratio:.2f}x, target <= {target:g}x: {'met' if met else 'missed'}")


if __name__ == "__main__":
    main()
