"""`dnslb import`: MetalLB and external-dns manifests in, the dnslb resources that do the same out.

The translation is `dnslb.core.importing`; this reads the files, prints the resources on stdout and, on stderr, one
line per thing that does not carry over.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from dnslb.core.grammar import is_dns1123_subdomain
from dnslb.core.importing import DEFAULT_NAMESPACE, Imported, translate
from dnslb.core.manifests import (
    MANIFEST_SUFFIXES,
    Document,
    ManifestError,
    dump_documents,
    manifest_names,
    read_documents,
)

EXIT_OK, EXIT_INVALID, EXIT_NOTES = 0, 2, 3

DESCRIPTION = (
    "Read MetalLB (v0.13+ CRDs: IPAddressPool, BGPPeer, BGPAdvertisement, Community, L2Advertisement, BFDProfile) "
    "and external-dns manifests (its Deployments' flags) and print the dnslb resources that do the same "
    "(AddressPool, BGPPeer, BGPAdvertisement, DNSProvider), ready for `dnslb plan` and `kubectl apply`. On stderr, "
    "one line per thing that cannot carry over, and why; secret values are never copied (a note names the Secret "
    "and key to create). Other objects in the files (Services, Namespaces, ...) are passed over. Exit code: 0 all "
    "carried over; 3 some things did not (see the notes); 2 unreadable or invalid input."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        required=True,
        metavar="FILE",
        help="manifest file, a directory (its *.yaml, *.yml and *.json files) or '-' for stdin; repeat "
        "(required, no default)",
    )
    parser.add_argument(
        "--namespace",
        default=DEFAULT_NAMESPACE,
        help=f"namespace of the resources printed: the dnslb controller's (default {DEFAULT_NAMESPACE})",
    )
    parser.add_argument(
        "-o", "--output", choices=("yaml", "json"), default="yaml", help="output format (default yaml: a stream)"
    )


def run(args: argparse.Namespace) -> int:
    if not is_dns1123_subdomain(args.namespace):
        print(f"dnslb import: --namespace {args.namespace!r} is not a namespace name", file=sys.stderr)
        return EXIT_INVALID
    try:
        documents = read_inputs(args.filename)
    except (OSError, ManifestError) as exc:
        print(f"dnslb import: {exc}", file=sys.stderr)
        return EXIT_INVALID
    imported = translate(documents, args.namespace)
    if imported.errors:
        for error in imported.errors:
            print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    if not imported.read:
        print(f"dnslb import: no MetalLB or external-dns objects in {', '.join(args.filename)}", file=sys.stderr)
        return EXIT_INVALID
    for note in imported.notes:
        print(f"note: {note}", file=sys.stderr)
    print(render(imported, args.output, args.filename), end="")
    return EXIT_NOTES if imported.notes else EXIT_OK


def read_inputs(names: Sequence[str]) -> list[Document]:
    """The documents of each file, of each manifest in a directory (not its subdirectories), or of stdin, read as
    Kubernetes reads YAML (`dnslb.core.manifests.read_documents`, the reader `dnslb plan` uses)."""
    documents: list[Document] = []
    for name in names:
        if name == "-":
            documents += read_documents("<stdin>", sys.stdin.read())
        elif Path(name).is_dir():
            directory = Path(name)
            files = [directory / n for n in manifest_names(p.name for p in directory.iterdir() if p.is_file())]
            if not files:
                raise ManifestError(f"{name}: no {', '.join(MANIFEST_SUFFIXES)} files in this directory")
            for path in files:
                documents += read_documents(str(path), _text(path))
        else:
            documents += read_documents(name, _text(Path(name)))
    return documents


def _text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")  # Kubernetes reads UTF-8, whatever the locale says
    except UnicodeDecodeError:
        raise ManifestError(f"{path}: not a text file (UTF-8)") from None
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read it: {exc.strerror or exc}") from None


def render(imported: Imported, output: str, sources: Sequence[str]) -> str:
    bodies = [r.body for r in imported.resources]
    if output == "json":
        return json.dumps({"apiVersion": "v1", "kind": "List", "items": bodies}, indent=2) + "\n"
    header = f"# dnslb resources made by `dnslb import` from {', '.join(sources)}; read the notes it printed.\n"
    return header + dump_documents(bodies)
