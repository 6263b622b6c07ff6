"""Measure listing TrainJobs at scale: kfai against the Kubeflow SDK's `TrainerClient.list_jobs()`.

Run `python bench/jobs_listing.py [--counts 200,2000,20000] [--sdk-max-jobs 2000]`.

For each count the script starts an emulated cluster on 127.0.0.1 (`tests/emulator`) and
seeds that many TrainJobs with their pods. The seed is `phase="mixed"`, a quarter each
Created, Running, Complete and Failed, on a torchtune runtime, so every started job has
three pods. Then it measures the following, each in a fresh child process so that the
emulator's own heap neither slows the client's garbage collector nor counts as its memory:

- `list_jobs` in-process: `kfctl_ai.core.jobs.list_jobs` on one `Cluster`, the call alone;
- `kfai jobs -o json`: the whole CLI process, with its start-up and JSON output;
- the SDK: `TrainerClient.list_jobs()`, the call alone.

It reports the API requests the emulator recorded, wall and CPU time, and the SDK-to-kfai
time ratio. Memory is the peak traced by `tracemalloc` during the call, per run and per job,
from a second run because tracing slows the call, and the CLI's max RSS. The SDK makes a runtime lookup
and a pod list per job, so it runs only up to `--sdk-max-jobs` (default 2,000) and within
`--sdk-timeout` seconds.

Targets: at most 3 requests at 2,000 jobs, `list_jobs` at least 20x faster than the SDK,
and peak memory per job flat as the count grows (at the largest count within 1.5x of the
figure at 2,000).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The SDK reads this ConfigMap once when a TrainerClient is built, before any listing.
SDK_CONSTRUCTION_PATH = "/api/v1/namespaces/kubeflow-system/configmaps/kubeflow-trainer-public"
MAX_REQUESTS_AT_2000 = 3
MIN_SPEEDUP = 20.0
MAX_PER_JOB_GROWTH = 1.5


# ----------------------------------------------------------------------------------------------
# Child process: one listing, measured from the inside


def worker(mode: str, kubeconfig: str, trace: bool) -> None:
    """Run one listing (`kfai` or `sdk`) and print a JSON line with wall and CPU time, peak memory and statuses."""
    import tracemalloc
    from collections import Counter

    if mode == "kfai":
        from kfctl_ai.core.cluster import Cluster
        from kfctl_ai.core.jobs import list_jobs

        client = Cluster(kubeconfig=kubeconfig)

        def listing() -> Counter:
            return Counter(job.status for job in list_jobs(client))
    else:
        from kubeflow.common.types import KubernetesBackendConfig
        from kubeflow.trainer import TrainerClient

        client = TrainerClient(backend_config=KubernetesBackendConfig(config_file=kubeconfig))

        def listing() -> Counter:
            return Counter(job.status for job in client.list_jobs())

    if trace:
        tracemalloc.start()
    start, cpu_start = time.perf_counter(), time.process_time()
    statuses = listing()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "peak_bytes": peak, "statuses": statuses}))


# ----------------------------------------------------------------------------------------------
# Parent process: emulator, child processes, tables


@dataclass
class Measurement:
    seconds: float | None = None
    cpu_seconds: float | None = None
    requests: int | None = None
    peak_bytes: int | None = None
    max_rss_bytes: int | None = None
    statuses: dict[str, int] | None = None
    note: str = ""


def run_child(argv: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run a child process and return its exit code and stdout. On failure its stderr goes to ours."""
    completed = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr.decode(errors="replace")[-3000:])
    return completed.returncode, completed.stdout.decode()


def run_measured(argv: list[str], env: dict[str, str], timeout: float, stdout_path: Path) -> tuple[int, float, float, int]:
    """Run `argv` with stdout to a file and return its exit code, wall and CPU seconds, and max RSS in bytes."""
    with open(stdout_path, "wb") as stdout_file:
        start = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=stdout_file, stderr=subprocess.DEVNULL)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                os.wait4(process.pid, 0)
                raise subprocess.TimeoutExpired(argv, timeout)
            time.sleep(0.005)
        elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    # Linux reports ru_maxrss in KiB.
    return process.returncode, elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def child_environment(home: Path, kubeconfig: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KFAI_", "KUBECONFIG", "OPENAI_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_STATE_HOME=str(home / ".state"),
               KUBECONFIG=str(kubeconfig), NO_COLOR="1", PYTHONPATH=os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)])),
               # A bytecode cache, as a pip-installed kfai has, kept out of the checkout.
               PYTHONPYCACHEPREFIX=str(home / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def measure_call(mode: str, cluster, env: dict[str, str], timeout: float) -> Measurement:
    """Time one in-process listing in a child, then trace its memory in a second child."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", mode, str(cluster.kubeconfig)]
    cluster.store.clear_requests()
    try:
        code, output = run_child(argv, env, timeout)
    except subprocess.TimeoutExpired:
        return Measurement(note=f"stopped after {timeout:g} s")
    if code != 0:
        return Measurement(note=f"failed with exit code {code}")
    timed = json.loads(output.strip().splitlines()[-1])
    requests = sum(1 for request in cluster.store.requests if request.path != SDK_CONSTRUCTION_PATH)

    code, output = run_child(argv + ["--trace"], env, timeout * 3)
    traced = json.loads(output.strip().splitlines()[-1]) if code == 0 else {}
    return Measurement(seconds=timed["seconds"], cpu_seconds=timed["cpu_seconds"], requests=requests,
                       peak_bytes=traced.get("peak_bytes"), statuses=timed["statuses"])


def measure_cli(cluster, env: dict[str, str], scratch: Path, count: int, timeout: float) -> Measurement:
    kfai = Path(sys.executable).with_name("kfai")
    argv = [str(kfai), "jobs", "-o", "json"]
    output_path = scratch / "jobs.json"
    run_measured(argv, env, timeout, output_path)  # warm-up: bytecode cache, page cache
    cluster.store.clear_requests()
    code, elapsed, cpu, rss = run_measured(argv, env, timeout, output_path)
    if code != 0:
        return Measurement(note=f"`kfai jobs -o json` exited with code {code}")
    listed = len(json.loads(output_path.read_text())["jobs"])
    note = "" if listed == count else f"listed {listed} of {count} jobs"
    return Measurement(seconds=elapsed, cpu_seconds=cpu, requests=len(cluster.store.requests), max_rss_bytes=rss, note=note)


def fmt(value: float | int | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="200,2000,20000", help="TrainJob counts, comma-separated (default: 200,2000,20000)")
    parser.add_argument("--sdk-max-jobs", type=int, default=2000, help="largest count the SDK lists (default: 2000)")
    parser.add_argument("--sdk-timeout", type=float, default=300.0, help="seconds before an SDK listing is stopped (default: 300)")
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "KUBECONFIG"), help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        worker(options.worker[0], options.worker[1], options.trace)
        return
    counts = [int(part) for part in options.counts.split(",") if part.strip()]

    from tests.emulator import start_cluster

    results: dict[int, dict[str, Measurement]] = {}
    with tempfile.TemporaryDirectory(prefix="kfai-bench-jobs-") as scratch_name:
        scratch = Path(scratch_name)
        for count in counts:
            cluster = start_cluster(kubeconfig=scratch / f"kubeconfig-{count}")
            try:
                seed_start = time.perf_counter()
                cluster.seed_trainjobs(count, phase="mixed")
                pods = cluster.store.count("pods")
                print(f"{count:>6} TrainJobs, {pods} pods seeded in {time.perf_counter() - seed_start:.1f} s", flush=True)
                env = child_environment(scratch, cluster.kubeconfig)
                row = {
                    "kfai": measure_call("kfai", cluster, env, timeout=300),
                    "cli": measure_cli(cluster, env, scratch, count, timeout=300),
                }
                if count <= options.sdk_max_jobs:
                    row["sdk"] = measure_call("sdk", cluster, env, timeout=options.sdk_timeout)
                else:
                    row["sdk"] = Measurement(note=f"not run: above --sdk-max-jobs {options.sdk_max_jobs}")
                results[count] = row
            finally:
                cluster.stop()

    print_report(results)


def print_report(results: dict[int, dict[str, Measurement]]) -> None:
    print()
    header = (f"{'jobs':>6}  {'client':<24} {'requests':>8} {'wall s':>8} {'CPU s':>7} {'peak MiB':>9} "
              f"{'KiB/job':>8} {'max RSS MiB':>11}  note")
    print(header)
    print("-" * len(header))
    labels = {"kfai": "kfai list_jobs()", "cli": "kfai jobs -o json (CLI)", "sdk": "SDK list_jobs()"}
    for count, row in results.items():
        for key in ("kfai", "cli", "sdk"):
            m = row[key]
            peak_mib = m.peak_bytes / 2**20 if m.peak_bytes is not None else None
            per_job = m.peak_bytes / 1024 / count if m.peak_bytes is not None and count else None
            rss_mib = m.max_rss_bytes / 2**20 if m.max_rss_bytes is not None else None
            print(f"{count:>6}  {labels[key]:<24} {fmt(m.requests, 'd'):>8} {fmt(m.seconds, '.3f'):>8} {fmt(m.cpu_seconds, '.3f'):>7} "
                  f"{fmt(peak_mib, '.1f'):>9} {fmt(per_job, '.2f'):>8} {fmt(rss_mib, '.1f'):>11}  {m.note}")

    print()
    print(f"{'jobs':>6}  {'SDK / kfai list_jobs()':>22} {'SDK / kfai CLI':>15}  statuses agree")
    verdicts: list[tuple[str, bool]] = []
    for count, row in results.items():
        sdk, ours, cli = row["sdk"], row["kfai"], row["cli"]
        if sdk.seconds is None or ours.seconds is None:
            continue
        speedup = sdk.seconds / ours.seconds
        cli_speedup = sdk.seconds / cli.seconds if cli.seconds else None
        agree = sdk.statuses == ours.statuses
        print(f"{count:>6}  {speedup:>21.1f}x {fmt(cli_speedup, '.1f'):>14}x  {'yes' if agree else 'NO'}")
        verdicts.append((f"list_jobs() >= {MIN_SPEEDUP:g}x faster than the SDK at {count} jobs: {speedup:.1f}x", speedup >= MIN_SPEEDUP))
        verdicts.append((f"same status counts as the SDK at {count} jobs", agree))

    if 2000 in results and results[2000]["kfai"].requests is not None:
        requests = results[2000]["kfai"].requests
        verdicts.append((f"<= {MAX_REQUESTS_AT_2000} requests at 2000 jobs: {requests}", requests <= MAX_REQUESTS_AT_2000))
    per_job = {count: row["kfai"].peak_bytes / count for count, row in results.items() if row["kfai"].peak_bytes}
    largest = max(per_job, default=None)
    if 2000 in per_job and largest and largest > 2000:
        growth = per_job[largest] / per_job[2000]
        verdicts.append((f"peak memory per job at {largest} jobs within {MAX_PER_JOB_GROWTH:g}x of 2000: "
                         f"{growth:.2f}x ({per_job[largest] / 1024:.2f} vs {per_job[2000] / 1024:.2f} KiB)",
                         growth <= MAX_PER_JOB_GROWTH))

    print()
    print(f"summary: {sum(met for _, met in verdicts)} of {len(verdicts)} listing targets met")
    for text, met in verdicts:
        print(f"  {'met   ' if met else 'MISSED'} {text}")


if __name__ == "__main__":
    main()
