"""Measure the time kfai adds to LLM planning, above the LLM call and litellm's own import.

Run `python bench/llm_planning.py [--runs N]`.

The script starts the local OpenAI-compatible server of the test suite (`tests/fake_llm.py`,
on 127.0.0.1). It replies to every request at once with one scripted `fine_tune` tool call.
Each run, in this order and in fresh processes, measures:

1. `python -c "import litellm"`: interpreter start-up plus litellm's import;
2. `kfai ask --plan-only -o json SENTENCE` with `KFAI_LLM_MODEL=openai/gpt-4o-mini` pointed at
   the server: the whole planning process;
3. a bare `litellm.completion` call with the same messages and tools that kfai sent, in a
   process that has already imported litellm: the first (cold) call, as kfai makes it, and a
   second (warm) one;
4. kfai's `run()` in a process that has already imported litellm, with `litellm.completion`
   timed from the outside: kfai's in-process time less the time spent in litellm.

kfai's overhead is (2) - (1) - (3, cold call), medians over the runs; (4) gives the same
figure measured inside one process. Every process gets `LITELLM_LOCAL_MODEL_COST_MAP=True`,
so litellm reads its bundled price map instead of downloading one, and no request leaves
127.0.0.1.

Target: kfai's overhead under 300 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SENTENCE = "train llama 3.2 on alpaca, 3 epochs"
MODEL = "openai/gpt-4o-mini"
# A placeholder: the local server accepts any key, and litellm requires one for openai/ models.
PLACEHOLDER_KEY = "sk-bench-placeholder"
TARGET_OVERHEAD_S = 0.300


# ----------------------------------------------------------------------------------------------
# Child processes


def bare_worker(request_path: str, api_base: str) -> None:
    """Import litellm, time two bare completions of kfai's request and print a JSON line."""
    start = time.perf_counter()
    import litellm

    imported = time.perf_counter()
    body = json.loads(Path(request_path).read_text())
    calls = []
    for _ in range(2):
        call_start, cpu_start = time.perf_counter(), time.process_time()
        response = litellm.completion(
            model=MODEL, messages=body["messages"], tools=body["tools"], tool_choice="auto",
            api_base=api_base, timeout=30, num_retries=0,
        )
        calls.append((time.perf_counter() - call_start, time.process_time() - cpu_start))
        if not response.choices[0].message.tool_calls:
            raise SystemExit("error: the bare completion returned no tool call")
    print(json.dumps({"import_seconds": imported - start, "cold_call_seconds": calls[0][0],
                      "cold_call_cpu_seconds": calls[0][1], "warm_call_seconds": calls[1][0]}))


def in_process_worker() -> None:
    """Import litellm, run kfai's `ask --plan-only` with litellm.completion timed and print a JSON line."""
    import io
    from contextlib import redirect_stdout

    import litellm

    spent_in_litellm = [0.0, 0.0]  # wall, CPU
    original = litellm.completion

    def timed_completion(*args, **kwargs):
        call_start, cpu_start = time.perf_counter(), time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent_in_litellm[0] += time.perf_counter() - call_start
            spent_in_litellm[1] += time.process_time() - cpu_start

    litellm.completion = timed_completion
    start, cpu_start = time.perf_counter(), time.process_time()
    from kfctl_ai.cli.main import run

    output = io.StringIO()
    with redirect_stdout(output):
        code = run(["ask", "--plan-only", "-o", "json", SENTENCE])
    total, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    if code != 0 or json.loads(output.getvalue())["planner"] != "llm":
        raise SystemExit(f"error: kfai exited with code {code}: {output.getvalue()[:500]}")
    print(json.dumps({"kfai_seconds": total, "kfai_cpu_seconds": cpu,
                      "litellm_call_seconds": spent_in_litellm[0], "litellm_call_cpu_seconds": spent_in_litellm[1]}))


# ----------------------------------------------------------------------------------------------
# Parent process


def child_environment(home: Path, api_base: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KFAI_", "KUBECONFIG", "OPENAI_", "LITELLM_"))}
    env.update(
        HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_STATE_HOME=str(home / ".state"),
        NO_COLOR="1", PYTHONPATH=os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)])),
        KFAI_LLM_MODEL=MODEL, KFAI_LLM_API_BASE=api_base, OPENAI_API_KEY=PLACEHOLDER_KEY,
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        # A bytecode cache, as a pip-installed kfai has, kept out of the checkout.
        PYTHONPYCACHEPREFIX=str(home / "pycache"),
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def timed_run(argv: list[str], env: dict[str, str], scratch: Path) -> tuple[float, float, str]:
    """Run a child process and return its wall seconds, CPU seconds (user + system) and stdout."""
    stdout_path, stderr_path = scratch / "stdout.txt", scratch / "stderr.txt"
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"error: `{' '.join(argv)}` exited with code {code}:\n"
                         + stderr_path.read_text(errors="replace")[-3000:])
    return elapsed, usage.ru_utime + usage.ru_stime, stdout_path.read_text()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each measurement; medians count (default: 5)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        if options.worker[0] == "bare":
            bare_worker(*options.worker[1:])
        else:
            in_process_worker()
        return
    if options.runs < 1:
        parser.error("--runs must be at least 1")

    from tests.fake_llm import FakeLLM, Reply, tool_call

    def scripted_reply() -> Reply:
        return Reply(tool_calls=[tool_call("fine_tune", {"model": "llama 3.2", "dataset": "alpaca", "epochs": 3})])

    kfai = str(Path(sys.executable).with_name("kfai"))
    script = str(Path(__file__).resolve())
    samples: dict[str, list[float]] = {}

    def record(key: str, value: float) -> None:
        samples.setdefault(key, []).append(value)

    server = FakeLLM().start()
    try:
        with tempfile.TemporaryDirectory(prefix="kfai-bench-llm-") as scratch_name:
            scratch = Path(scratch_name)
            env = child_environment(scratch, server.api_base)
            request_path = scratch / "request.json"
            plan_argv = [kfai, "ask", "--plan-only", "-o", "json", SENTENCE]

            # Warm-up, which also records the request kfai sends for the bare calls to repeat.
            server.queue(scripted_reply())
            timed_run(plan_argv, env, scratch)
            request_path.write_text(json.dumps(server.requests[-1]["body"]))
            timed_run([sys.executable, "-c", "import litellm"], env, scratch)

            for run in range(options.runs):
                wall, cpu, _ = timed_run([sys.executable, "-c", "import litellm"], env, scratch)
                record("import", wall)
                record("import_cpu", cpu)

                server.queue(scripted_reply())
                wall, cpu, output = timed_run(plan_argv, env, scratch)
                plan = json.loads(output)
                if plan["planner"] != "llm" or plan["steps"][0]["command"] != "fine-tune":
                    raise SystemExit(f"error: unexpected plan: {output[:500]}")
                record("kfai", wall)
                record("kfai_cpu", cpu)

                server.queue(scripted_reply(), scripted_reply())
                bare = json.loads(timed_run([sys.executable, script, "--worker", "bare", str(request_path), server.api_base],
                                            env, scratch)[2].splitlines()[-1])
                record("bare_import", bare["import_seconds"])
                record("cold_call", bare["cold_call_seconds"])
                record("cold_call_cpu", bare["cold_call_cpu_seconds"])
                record("warm_call", bare["warm_call_seconds"])

                server.queue(scripted_reply())
                inside = json.loads(timed_run([sys.executable, script, "--worker", "in-process"], env, scratch)[2].splitlines()[-1])
                record("in_process", inside["kfai_seconds"])
                record("in_process_cpu", inside["kfai_cpu_seconds"])
                record("in_process_call", inside["litellm_call_seconds"])
                record("in_process_call_cpu", inside["litellm_call_cpu_seconds"])
                print(f"run {run + 1} of {options.runs} done", flush=True)
    finally:
        server.stop()

    print_report(options.runs, {key: statistics.median(values) for key, values in samples.items()},
                 {key: min(values) for key, values in samples.items()})


def print_report(runs: int, median: dict[str, float], fastest: dict[str, float]) -> None:
    rows = [
        ("python -c 'import litellm' (process)", "import", "import_cpu"),
        ("kfai ask --plan-only, LLM planner (process)", "kfai", "kfai_cpu"),
        ("litellm import, measured inside", "bare_import", None),
        ("bare litellm.completion, first call", "cold_call", "cold_call_cpu"),
        ("bare litellm.completion, second call", "warm_call", None),
        ("kfai run() with litellm imported", "in_process", "in_process_cpu"),
        ("  of which inside litellm.completion", "in_process_call", "in_process_call_cpu"),
    ]
    print()
    print(f"LLM planning against a local server that replies at once; {runs} runs")
    header = f"{'measurement':<46} {'wall median':>11} {'wall min':>9} {'CPU median':>11}"
    print(header)
    print("-" * len(header))
    for label, key, cpu_key in rows:
        cpu = f"{median[cpu_key]:>11.3f}" if cpu_key else f"{'-':>11}"
        print(f"{label:<46} {median[key]:>11.3f} {fastest[key]:>9.3f} {cpu}")

    def overhead(figures: dict[str, float], suffix: str = "") -> float:
        return figures["kfai" + suffix] - figures["import" + suffix] - figures["cold_call" + suffix]

    inside = median["in_process"] - median["in_process_call"]
    inside_cpu = median["in_process_cpu"] - median["in_process_call_cpu"]
    print()
    print("kfai overhead = kfai process - litellm import process - first bare call:")
    print(f"  wall, medians: {median['kfai']:.3f} - {median['import']:.3f} - {median['cold_call']:.3f} = {overhead(median) * 1000:.0f} ms")
    print(f"  wall, minima:  {fastest['kfai']:.3f} - {fastest['import']:.3f} - {fastest['cold_call']:.3f} = {overhead(fastest) * 1000:.0f} ms")
    print(f"  CPU, medians:  {median['kfai_cpu']:.3f} - {median['import_cpu']:.3f} - {median['cold_call_cpu']:.3f} = {overhead(median, '_cpu') * 1000:.0f} ms")
    print("kfai overhead inside one process = run() - time in litellm.completion:")
    print(f"  wall {inside * 1000:.0f} ms, CPU {inside_cpu * 1000:.0f} ms (medians)")
    print()
    met = overhead(median) < TARGET_OVERHEAD_S
    print(f"summary: kfai adds {overhead(median) * 1000:.0f} ms of wall time to LLM planning "
          f"({overhead(median, '_cpu') * 1000:.0f} ms CPU; {inside * 1000:.0f} ms inside one process); "
          f"target < {TARGET_OVERHEAD_S * 1000:.0f} ms: {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
