"""The `dnslb` command: parses flags and starts one of the processes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from dnslb import __version__
from dnslb.app.ops import add_class_arguments, add_source_arguments, source_settings
from dnslb.core.ipam import ClassFilter
from dnslb.core.manifests import Document, ManifestError, manifest_names, read_documents
from dnslb.core.sources.read import SOURCES

LAB_HELP = "the whole system in network namespaces on this machine, under load and chaos (root)"


# 128 + SIGPIPE: what a shell reports for a command whose reader went away (`dnslb plan ... | head`), as it does for
# any tool killed by SIGPIPE; 1 to 4 are plan's own answers.
EXIT_BROKEN_PIPE = 141
EXIT_INTERRUPTED = 130  # 128 + SIGINT


def main(argv: Sequence[str] | None = None) -> int:
    """The `dnslb` command. What a user can get wrong ends in one line on stderr and an exit code, not a traceback:
    each command catches its own; here, a reader that closed the pipe early, and Ctrl-C."""
    try:
        code = _main(list(sys.argv[1:] if argv is None else argv))
        sys.stdout.flush()  # here, not at exit, where a broken pipe would be reported with a traceback
    except BrokenPipeError:
        # https://docs.python.org/3/library/signal.html#note-on-sigpipe: nothing more can be written; point stdout at
        # /dev/null so that the interpreter's own flush at exit does not complain either, and exit quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return code


def _main(argv: list[str]) -> int:
    if argv[:1] == ["lab"]:
        return _run_lab(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    code: int = args.run(args)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dnslb",
        description="VIPs for LoadBalancer Services from address pools, announced over BGP, published in DNS.",
    )
    parser.add_argument("--version", action="version", version=f"dnslb {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    plan = commands.add_parser(
        "plan",
        help="print the VIPs and DNS records dnslb would give these Services (offline, or read-only against DNS)",
        description=(
            "Read config resources (AddressPool, BGPPeer, BGPAdvertisement, DNSProvider) and v1 Services "
            "(single objects or Lists, as `kubectl get -o yaml` prints them) and print, for each Service, its pool, "
            "VIPs or the reason it gets none, and its hostnames; then the DNS changes (against empty zones, or with "
            "--live against the zones as they are), and every hostname that would not be published, with the "
            "controller's reason. VIPs already in a Service's status are kept, as the controller keeps them. "
            "Exit code: 0 all valid, every hostname published; 1 some Service got no VIP; 2 invalid input; "
            "3 warnings only (a hostname would not be published, or a warning on a Service); 4 (--live) a "
            "DNSProvider could not be read, so its part of the plan is missing. When several apply: 2, 4, 1, 3."
        ),
    )
    plan.add_argument(
        "-f",
        "--filename",
        action="append",
        required=True,
        metavar="FILE",
        help="manifest file, '-' for stdin, or a directory: its *.yaml, *.yml and *.json files, sorted (not its "
        "subdirectories); repeat",
    )
    plan.add_argument(
        "-o", "--output", choices=("table", "json", "yaml"), default="table", help="output format (default table)"
    )
    plan.add_argument(
        "--owner-id", default="dnslb", help="the controller's --owner-id (default dnslb; DNSProvider.ownerID wins)"
    )
    add_class_arguments(plan)
    add_source_arguments(plan, default=",".join(SOURCES))
    live = plan.add_argument_group(
        "live DNS", "Read each DNSProvider's zones from the provider, and never write to it or to the cluster."
    )
    live.add_argument(
        "--live",
        action="store_true",
        help="plan against what the zones hold now: updates, takeover, names owned by others (default: empty zones)",
    )
    live.add_argument(
        "--prune",
        action="store_true",
        help="with --live: the manifests hold every Service of the cluster, so plan deleting the names this owner ID "
        "holds that none of them claims, as the controller would (default: no deletes; their count is noted)",
    )
    live.add_argument(
        "--kubeconfig",
        help="with --live: read DNSProviders' Secrets from this cluster (default: no cluster; "
        "providers use their default credentials)",
    )
    live.add_argument(
        "--api-server",
        metavar="URL",
        help="with --live: the same, from this API server URL, no credentials (default: none)",
    )
    live.add_argument(
        "--namespace",
        default="dnslb-system",
        help="the controller's namespace: config resources elsewhere are ignored, as the controller ignores them; "
        "where the DNSProviders' Secrets live (default dnslb-system)",
    )
    plan.set_defaults(run=_run_plan)

    from dnslb.app import controller_main

    controller = commands.add_parser(
        "controller",
        help="allocate VIPs to LoadBalancer Services and write their status (runs in the cluster)",
        description=(
            "Watch Services and the dnslb.io config resources, give every LoadBalancer Service a VIP from its "
            "address pools and write it to status.loadBalancer; restores existing VIPs before allocating any."
        ),
    )
    controller_main.add_arguments(controller)
    controller.set_defaults(run=controller_main.run)

    from dnslb.app import speaker_main

    speaker = commands.add_parser(
        "speaker",
        help="announce this node's VIPs over BGP with ExaBGP (runs on every node)",
        description=(
            "Watch Services, EndpointSlices, this Node and the BGP config; announce the VIPs this node should carry "
            "(Cluster: every eligible node; Local: nodes with a ready endpoint) through ExaBGP; withhold a flapping "
            "node (damping); on SIGTERM withdraw everything, wait --drain-seconds, stop."
        ),
    )
    speaker_main.add_arguments(speaker)
    speaker.set_defaults(run=speaker_main.run)

    from dnslb.app import rollback as rollback_main

    dns = commands.add_parser("dns", help="DNS maintenance: roll back takeover", description="DNS maintenance.")
    dns_commands = dns.add_subparsers(title="commands", metavar="COMMAND", required=True)
    rollback = dns_commands.add_parser(
        "rollback",
        help="restore the record sets that takeover replaced, exactly as they were",
        description=(
            "Put back the record sets a DNSProvider with takeover replaced (saved in ConfigMap "
            "dnslb-takeover-<provider>), and remove dnslb's records and ownership at those names. Turn takeover off "
            "on the DNSProvider first, or the controller takes the names over again."
        ),
    )
    rollback_main.add_arguments(rollback)
    rollback.set_defaults(run=rollback_main.rollback)

    from dnslb.app import status as status_main

    status = commands.add_parser(
        "status",
        help="show each LoadBalancer Service's VIPs, DNS state and announcing nodes, and the cluster (read-only)",
        description=status_main.DESCRIPTION,
    )
    status_main.add_arguments(status)
    status.set_defaults(run=status_main.run)

    from dnslb.app import importer

    imported = commands.add_parser(
        "import",
        help="print the dnslb resources doing what MetalLB and external-dns manifests do, and what cannot carry over",
        description=importer.DESCRIPTION,
    )
    importer.add_arguments(imported)
    imported.set_defaults(run=importer.run)

    # The lab lives in its own package (dnslb_lab, with the test kit): `main` hands `dnslb lab ...` to it, so the
    # processes that run in a cluster never load it. This entry only lists it in `dnslb --help`.
    commands.add_parser("lab", help=LAB_HELP, add_help=False)
    return parser


def _run_lab(argv: list[str]) -> int:
    try:
        from dnslb_lab.main import main as lab_main
    except ImportError as exc:
        print(f"dnslb lab: the lab is not installed here ({exc}); install dnslb[lab]", file=sys.stderr)
        return 2
    return lab_main(argv)


def read_manifests(filenames: Sequence[str]) -> list[Document]:
    """The objects in these files, in order: '-' is stdin, a directory its *.yaml, *.yml and *.json files, sorted by
    name and not those of its subdirectories, as kubectl reads a directory. Raises ManifestError (one line) for a file
    that cannot be read or is not YAML, and when they hold no document at all."""
    documents: list[Document] = []
    for name in filenames:
        if name == "-":
            stdin = getattr(sys.stdin, "buffer", None)  # None: replaced by a text stream (a test's)
            text = _decoded("<stdin>", stdin.read()) if stdin is not None else sys.stdin.read()
            documents += read_documents("<stdin>", text)
            continue
        for path in _manifest_files(Path(name)):
            documents += read_documents(str(path), _decoded(str(path), _read_bytes(path)))
    if not documents:
        raise ManifestError(f"no documents in {', '.join('<stdin>' if n == '-' else n for n in filenames)}")
    return documents


def _manifest_files(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]
    try:
        names = [entry.name for entry in os.scandir(path) if entry.is_file()]
    except OSError as exc:
        raise ManifestError(f"{path}: {exc.strerror or exc}") from None
    return [path / name for name in manifest_names(names)]


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ManifestError(f"{path}: {exc.strerror or exc}") from None


def _decoded(source: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{source}: not UTF-8 text (byte {exc.start})") from None


def _run_plan(args: argparse.Namespace) -> int:
    from dnslb.adapters.kube.client import ClusterConfigError
    from dnslb.app.plan import EXIT_INVALID, LiveZones, ReadZones, cluster_secrets, make_plan, render

    if not args.live and (args.prune or args.kubeconfig or args.api_server):
        print("dnslb plan: --prune, --kubeconfig and --api-server need --live", file=sys.stderr)
        return EXIT_INVALID
    try:
        documents = read_manifests(args.filename)
    except ManifestError as exc:
        print(f"dnslb plan: {exc}", file=sys.stderr)
        return EXIT_INVALID
    read_zones: ReadZones | None = None
    if args.live:
        cluster = args.kubeconfig or args.api_server
        try:
            secrets = cluster_secrets(args.kubeconfig, args.api_server, args.namespace) if cluster else None
        except ClusterConfigError as exc:  # a kubeconfig that is missing or cannot be used, an --api-server not a URL
            print(f"dnslb plan: {exc}", file=sys.stderr)
            return EXIT_INVALID
        except Exception as exc:
            print(f"dnslb plan: cannot use the cluster: {type(exc).__name__}: {exc}", file=sys.stderr)
            return EXIT_INVALID
        read_zones = LiveZones(secrets, args.owner_id)
    classes = ClassFilter(args.load_balancer_class, args.default_class)
    plan = make_plan(
        documents,
        classes,
        owner=args.owner_id,
        read_zones=read_zones,
        prune=args.prune,
        namespace=args.namespace,
        sources=source_settings(args),
    )
    for note in plan.notes:
        print(f"note: {note}", file=sys.stderr)
    for error in (*plan.errors, *plan.unreadable):
        print(f"error: {error}", file=sys.stderr)
    print(render(plan, args.output))
    return plan.exit_code


if __name__ == "__main__":
    sys.exit(main())
