"""`python -m dnslb_testkit.kubeapi --port N`: serve the Kubernetes API double until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from dnslb_testkit.kubeapi import kinds
from dnslb_testkit.kubeapi.api import KubeAPI


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m dnslb_testkit.kubeapi",
        description=(
            "An in-memory Kubernetes API server for tests. Prints the URL it serves on one line when ready; "
            "stops on SIGTERM or SIGINT. Faults are driven over HTTP: POST /_test/drop-watches, "
            "/_test/compact, /_test/fail-next?n=3&status=429, /_test/latency?seconds=0.1, "
            "/_test/reset-requests, /_test/seed (a JSON list of objects); GET /_test/requests returns request "
            "counters."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default: 0)")
    parser.add_argument(
        "--history-limit",
        type=int,
        default=10000,
        help="changes kept for watches to resume from (default: %(default)s)",
    )
    parser.add_argument(
        "--bookmark-interval",
        type=float,
        default=60.0,
        help="seconds between BOOKMARK events on watches that allow them (default: %(default)s)",
    )
    parser.add_argument(
        "--single-stack", action="store_true", help="a single-stack (IPv4) cluster instead of dual-stack"
    )
    parser.add_argument(
        "--without", action="append", default=[], metavar="KIND",
        help="do not serve this custom kind, as a cluster without its CRD (repeatable; default: serve every kind)",
    )  # fmt: skip
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    stopping = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    kinds.unserve(arguments.without)
    api = KubeAPI(
        history_limit=arguments.history_limit,
        bookmark_interval=arguments.bookmark_interval,
        single_stack=arguments.single_stack,
    )
    url = api.start(arguments.host, arguments.port)
    print(url, flush=True)
    try:
        stopping.wait()
    finally:
        api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
