"""Run the emulated Kubeflow cluster in the foreground: `python -m tests.emulator [options]`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from tests.emulator.cluster import start_cluster
from tests.emulator.controller import DEFAULT_TICK_SECONDS

logger = logging.getLogger("tests.emulator")


def _forbid_rule(text: str) -> tuple[str, str, str]:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(parts[:2]):
        raise argparse.ArgumentTypeError(f"invalid rule {text!r}: expected VERB:RESOURCE or VERB:RESOURCE:NAMESPACE")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else "*"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.emulator",
        description="Serve an emulated Kubernetes cluster with Kubeflow Trainer v2.3 on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1, or 0 for a free port (default: 0)")
    parser.add_argument("--kubeconfig", type=Path, default=None,
                        help="where to write the kubeconfig (default: a temporary file removed on exit)")
    parser.add_argument("--namespace", default="default", help="namespace of the kubeconfig context (default: default)")
    parser.add_argument("--tick", type=float, default=DEFAULT_TICK_SECONDS,
                        help=f"controller period in seconds (default: {DEFAULT_TICK_SECONDS})")
    parser.add_argument("--seed-jobs", type=int, default=0, metavar="N",
                        help="add N finished TrainJobs with their pods to the default namespace")
    parser.add_argument("--forbid", type=_forbid_rule, action="append", default=[], metavar="VERB:RESOURCE[:NS]",
                        help="return 403 for a verb on a resource, e.g. create:trainjobs:default (repeatable)")
    parser.add_argument("--no-trainer", action="store_true",
                        help="act as a cluster without Kubeflow Trainer: trainer.kubeflow.org paths return 404")
    parser.add_argument("--fail-job", action="append", default=[], metavar="NAME",
                        help="make the TrainJob NAME fail (repeatable). Names that start with fail- always fail")
    parser.add_argument("--drop-logs-after", type=int, default=None, metavar="N",
                        help="cut every followed log stream after N lines")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")

    cluster = start_cluster(port=args.port, tick=args.tick, kubeconfig=args.kubeconfig, namespace=args.namespace)

    store = cluster.store
    for verb, resource, namespace in args.forbid:
        store.forbid(verb, resource, namespace)
    store.trainer_installed = not args.no_trainer
    store.failing_jobs.update(args.fail_job)
    store.log_stream_drop_after = args.drop_logs_after
    if args.seed_jobs:
        cluster.seed_trainjobs(args.seed_jobs)

    stopped = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stopped.set())
    try:
        print(f"Emulated Kubeflow cluster at {cluster.url}. In another shell: "
              f"export KUBECONFIG={cluster.kubeconfig} && kfai runtimes   (Ctrl-C stops it)", flush=True)
        stopped.wait()
    finally:
        cluster.stop()
        logger.info("emulated cluster on port %d stopped", cluster.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
