"""Measure `kfai logs -f` on a long log against reading the same stream with the kubernetes client.

Run `python bench/logs_follow.py [--lines 100000] [--runs 3]`.

The script starts an emulated cluster on 127.0.0.1 (`tests/emulator`) and creates a
TrainJob on the `torch-distributed` runtime whose `node-0` pod prints `--lines` scripted lines
of about 80 characters. The job is held Running until the controller has written the whole
log in one tick (`store.log_lines_per_tick`), then released, so it completes. Every follow
below therefore streams the whole log at the speed of the client and the emulator's HTTP
server, never at the speed of the controller's tick.

Each reader runs in its own child process, the emulator stays in this one, and the runs
alternate between readers:

- in-process, from the first request to the last line, imports excluded:
  kfai `follow_log_batches` (with its job and pod lookups), the kubernetes client's own line
  iterator (`kubernetes.watch.watch.iter_resp_lines`, as the Kubeflow SDK's follow uses),
  and a plain reader that splits 64 KiB reads of `read_namespaced_pod_log(follow=True,
  _preload_content=False)` into lines;
- whole processes with stdout to a file: `kfai logs JOB -f` against a script that runs the
  plain reader and prints each line. A job with a one-line log gives each process's fixed
  cost (start-up, imports, lookups), which is subtracted for the net streaming rate.

Target: kfai within 1.5x of the raw stream's time, in-process and as a process.
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

NAMESPACE = "default"
RUNTIME = "torch-distributed"
CONTAINER = "node"
READ_SIZE = 64 * 1024
MAX_RATIO = 1.5


def log_line(index: int, total: int) -> str:
    loss = 2.5 / (1 + index / 5000)
    return f"step {index + 1:>6}/{total} | loss {loss:.4f} | lr 2.0e-05 | grad_norm {0.8 + (index % 97) / 100:.3f} | tokens/s {31000 + index % 977}"


# ----------------------------------------------------------------------------------------------
# Child process: one reader


def stream_lines_plain(core, pod: str):
    """Yield the lines of a followed log from 64 KiB reads, the plainest use of the client."""
    response = core.read_namespaced_pod_log(
        pod, NAMESPACE, container=CONTAINER, follow=True, _preload_content=False
    )
    pending = b""
    try:
        for chunk in response.stream(amt=READ_SIZE):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.decode("utf-8", errors="replace")
        if pending:
            yield pending.decode("utf-8", errors="replace")
    finally:
        response.release_conn()


def worker(mode: str, kubeconfig: str, job: str, pod: str) -> None:
    """Read one log with reader `mode` and print a JSON line with its line count, wall and CPU seconds."""
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    core = client.CoreV1Api(client.ApiClient(configuration))
    if mode == "kfai":
        from kfctl_ai.core.cluster import Cluster
        from kfctl_ai.core.logs import follow_log_batches

        cluster = Cluster(kubeconfig=kubeconfig)

    start, cpu_start = time.perf_counter(), time.process_time()
    count = 0
    if mode == "kfai":
        for batch in follow_log_batches(cluster, job, "node-0"):
            count += len(batch)
    elif mode == "client-iterator":
        from kubernetes.watch.watch import iter_resp_lines

        response = core.read_namespaced_pod_log(
            pod, NAMESPACE, container=CONTAINER, follow=True, _preload_content=False
        )
        for _ in iter_resp_lines(response):
            count += 1
        response.release_conn()
    elif mode == "plain":
        for _ in stream_lines_plain(core, pod):
            count += 1
    elif mode == "plain-print":
        write = sys.stdout.write
        for line in stream_lines_plain(core, pod):
            write(line + "\n")
            count += 1
        sys.stdout.flush()
        return
    else:
        raise SystemExit(f"error: unknown reader {mode!r}")
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    print(json.dumps({"lines": count, "seconds": elapsed, "cpu_seconds": cpu}))


# ----------------------------------------------------------------------------------------------
# Parent process


def child_environment(home: Path, kubeconfig: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KFAI_", "KUBECONFIG", "OPENAI_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_STATE_HOME=str(home / ".state"),
               KUBECONFIG=str(kubeconfig), NO_COLOR="1", PYTHONPATH=os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)])),
               # A bytecode cache, as a pip-installed kfai has, kept out of the checkout.
               PYTHONPYCACHEPREFIX=str(home / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def prepare_job(cluster, name: str, lines: list[str], timeout: float = 120.0) -> str:
    """Create a TrainJob whose node-0 log is `lines`, wait until it completes and return its node-0 pod."""
    store = cluster.store
    store.script_logs(name, lines)
    store.hold(name, "Running")
    store.create("trainjobs", NAMESPACE, {"metadata": {"name": name}, "spec": {"runtimeRef": {"name": RUNTIME}}})

    def fully_written() -> bool:
        for pod in store.pods_of(name):
            log = store.container_log(NAMESPACE, pod["metadata"]["name"], CONTAINER)
            if log is not None and len(log.lines) >= len(lines):
                return True
        return False

    cluster.wait_for(fully_written, timeout=timeout)
    store.release(name)
    if cluster.wait_for_job(name, timeout=timeout) != "Complete":
        raise SystemExit(f"error: the benchmark TrainJob {name} did not complete")
    return next(pod["metadata"]["name"] for pod in store.pods_of(name)
                if pod["metadata"]["labels"].get("jobset.sigs.k8s.io/replicatedjob-name") == "node")


def run_reader(mode: str, env: dict[str, str], kubeconfig: Path, job: str, pod: str, expected: int) -> dict:
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", mode, str(kubeconfig), job, pod]
    completed = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=600)
    if completed.returncode != 0:
        raise SystemExit(f"error: reader {mode} failed:\n{completed.stderr.decode(errors='replace')[-3000:]}")
    result = json.loads(completed.stdout.decode().strip().splitlines()[-1])
    if result["lines"] != expected:
        raise SystemExit(f"error: reader {mode} read {result['lines']} lines, expected {expected}")
    return result


def run_process(argv: list[str], env: dict[str, str], output: Path, expected: int) -> tuple[float, float]:
    """Run a whole reader process with stdout to `output` and return its wall and CPU seconds."""
    errors_path = output.with_suffix(".stderr")
    with open(output, "wb") as stdout, open(errors_path, "wb") as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    with open(output, "rb") as written:
        lines = sum(1 for _ in written)
    if code != 0 or lines != expected:
        errors = errors_path.read_text(errors="replace")
        raise SystemExit(f"error: `{' '.join(argv)}` exited with code {code} after {lines} of {expected} lines:\n{errors[-3000:]}")
    return elapsed, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000, help="log lines (default: 100000)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each reader; the median counts (default: 3)")
    parser.add_argument("--worker", nargs=4, metavar=("MODE", "KUBECONFIG", "JOB", "POD"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        worker(*options.worker)
        return
    if options.lines < 1 or options.runs < 1:
        parser.error("--lines and --runs must be at least 1")

    from tests.emulator import start_cluster

    kfai = Path(sys.executable).with_name("kfai")
    lines = [log_line(index, options.lines) for index in range(options.lines)]
    readers = ("kfai", "client-iterator", "plain")
    in_process: dict[str, list[dict]] = {mode: [] for mode in readers}
    processes: dict[str, list[tuple[float, float]]] = {}

    with tempfile.TemporaryDirectory(prefix="kfai-bench-logs-") as scratch_name:
        scratch = Path(scratch_name)
        cluster = start_cluster(kubeconfig=scratch / "kubeconfig")
        try:
            cluster.store.log_lines_per_tick = options.lines
            setup_start = time.perf_counter()
            long_pod = prepare_job(cluster, "bench-long-log", lines)
            short_pod = prepare_job(cluster, "bench-one-line", lines[:1])
            print(f"{options.lines} log lines written and the jobs completed in {time.perf_counter() - setup_start:.1f} s", flush=True)
            env = child_environment(scratch, cluster.kubeconfig)
            output = scratch / "log.txt"
            commands = {
                "kfai logs -f": lambda job: [str(kfai), "logs", job, "-f"],
                "plain reader script": lambda job: [sys.executable, str(Path(__file__).resolve()), "--worker", "plain-print",
                                                    str(cluster.kubeconfig), job,
                                                    long_pod if job == "bench-long-log" else short_pod],
            }
            # Warm-up: bytecode cache and the emulator's first connections.
            for label, argv in commands.items():
                run_process(argv("bench-one-line"), env, output, 1)
            for label in commands:
                processes[f"{label} (long)"] = []
                processes[f"{label} (one line)"] = []
            for run in range(options.runs):
                for mode in readers:
                    in_process[mode].append(run_reader(mode, env, cluster.kubeconfig, "bench-long-log", long_pod, options.lines))
                for label, argv in commands.items():
                    processes[f"{label} (long)"].append(run_process(argv("bench-long-log"), env, output, options.lines))
                    processes[f"{label} (one line)"].append(run_process(argv("bench-one-line"), env, output, 1))
                print(f"run {run + 1} of {options.runs} done", flush=True)
        finally:
            cluster.stop()

    print_report(options.lines, options.runs, in_process, processes)


def print_report(total: int, runs: int, in_process: dict[str, list[dict]], processes: dict[str, list[tuple[float, float]]]) -> None:
    labels = {
        "kfai": "kfai follow_log_batches()",
        "client-iterator": "client iter_resp_lines()",
        "plain": "plain 64 KiB reader",
    }
    print()
    print(f"in-process, {total} lines, median of {runs} runs")
    header = f"{'reader':<28} {'wall s':>7} {'CPU s':>7} {'lines/s':>10} {'x plain':>8}"
    print(header)
    print("-" * len(header))
    medians = {mode: statistics.median(r["seconds"] for r in results) for mode, results in in_process.items()}
    cpus = {mode: statistics.median(r["cpu_seconds"] for r in results) for mode, results in in_process.items()}
    for mode in in_process:
        print(f"{labels[mode]:<28} {medians[mode]:>7.3f} {cpus[mode]:>7.3f} {total / medians[mode]:>10,.0f} "
              f"{medians[mode] / medians['plain']:>7.2f}x")

    print()
    print(f"whole processes, stdout to a file, median of {runs} runs")
    header = f"{'command':<24} {'long s':>7} {'1-line s':>9} {'net s':>7} {'net lines/s':>12} {'CPU s':>7} {'x plain':>8}"
    print(header)
    print("-" * len(header))
    rows = {}
    for label in ("kfai logs -f", "plain reader script"):
        long_wall = statistics.median(wall for wall, _ in processes[f"{label} (long)"])
        long_cpu = statistics.median(cpu for _, cpu in processes[f"{label} (long)"])
        short_wall = statistics.median(wall for wall, _ in processes[f"{label} (one line)"])
        rows[label] = (long_wall, short_wall, long_wall - short_wall, long_cpu)
    plain_net = rows["plain reader script"][2]
    for label, (long_wall, short_wall, net, long_cpu) in rows.items():
        rate = f"{total / net:>12,.0f}" if net > 0 else f"{'-':>12}"
        ratio = f"{net / plain_net:>7.2f}x" if net > 0 and plain_net > 0 else f"{'-':>8}"
        print(f"{label:<24} {long_wall:>7.3f} {short_wall:>9.3f} {net:>7.3f} {rate} {long_cpu:>7.3f} {ratio}")

    in_process_ratio = medians["kfai"] / medians["plain"]
    verdicts = [
        (f"kfai follow_log_batches() within {MAX_RATIO:g}x of the plain reader: {in_process_ratio:.2f}x", in_process_ratio <= MAX_RATIO),
    ]
    kfai_net = rows["kfai logs -f"][2]
    if kfai_net > 0 and plain_net > 0:
        kfai_net_ratio = kfai_net / plain_net
        verdicts.append((f"kfai logs -f within {MAX_RATIO:g}x of the plain reader script, net of start-up: {kfai_net_ratio:.2f}x",
                         kfai_net_ratio <= MAX_RATIO))
    else:
        # A short log streams faster than the start-up times vary, so the difference is noise.
        print("note: the net streaming time is not above the noise of start-up; use more --lines for the process figures")
    print()
    print(f"summary: {sum(met for _, met in verdicts)} of {len(verdicts)} log streaming targets met")
    for text, met in verdicts:
        print(f"  {'met   ' if met else 'MISSED'} {text}")


if __name__ == "__main__":
    main()
