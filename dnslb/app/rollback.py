"""`dnslb dns rollback`: put back the record sets that takeover replaced, exactly as they were."""

from __future__ import annotations

import argparse
import sys

from kubernetes.client import CoreV1Api, CustomObjectsApi
from kubernetes.client.rest import ApiException

from dnslb.adapters.dnssync.plugins import create
from dnslb.adapters.kube.client import api_client
from dnslb.adapters.kube.dnsstate import TakeoverStore, read_secret
from dnslb.core.config import load_config
from dnslb.core.config.resources import API_VERSION, GROUP, VERSION
from dnslb.core.dns.batch import pack
from dnslb.core.dns.changes import rollback_changes
from dnslb.core.manifests import Document
from dnslb.provider import ProviderError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--provider", required=True, help="the DNSProvider whose taken-over records to restore")
    parser.add_argument("--hostname", action="append", default=[], help="only this name (repeatable); default all")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, then ~/.kube/config)")
    parser.add_argument("--api-server", metavar="URL", help="talk to this API server URL without credentials")
    parser.add_argument("--namespace", default="dnslb-system", help="where the DNSProvider and its state live")
    parser.add_argument("--owner-id", default="dnslb", help="the controller's --owner-id (DNSProvider.ownerID wins)")
    parser.add_argument("--dry-run", action="store_true", help="print the changes without sending them")


def rollback(args: argparse.Namespace) -> int:
    api = api_client(args.kubeconfig, args.api_server)
    core, custom = CoreV1Api(api), CustomObjectsApi(api)
    try:
        body = custom.get_namespaced_custom_object(GROUP, VERSION, args.namespace, "dnsproviders", args.provider)
    except ApiException as exc:
        print(f"dnslb dns rollback: DNSProvider {args.namespace}/{args.provider}: HTTP {exc.status}", file=sys.stderr)
        return 2
    config, errors = load_config(
        [Document(f"DNSProvider {args.provider}", 0, None, {**body, "apiVersion": API_VERSION})]
    )
    if errors or not config.providers:
        print("\n".join(f"dnslb dns rollback: {e}" for e in errors), file=sys.stderr)
        return 2
    spec = config.providers[0].spec
    if spec.takeover:
        print(
            f"dnslb dns rollback: DNSProvider {args.provider} still has spec.takeover: true, so the controller would "
            "take the names over again at once. Set it to false (or remove the hostname annotations) first.",
            file=sys.stderr,
        )
        return 2
    owner = spec.owner_id or args.owner_id
    secret = read_secret(core, args.namespace, spec.secret_ref.name) if spec.secret_ref else {}
    store = TakeoverStore(core, args.namespace)
    try:
        provider = create(spec.type, spec.settings, secret)
        zones = {z.name: z for z in provider.zones()}
        restored = 0
        for zone_name, saved in sorted(store.load(args.provider).items()):
            chosen = [r for r in saved if not args.hostname or r.name in args.hostname]
            if not chosen or zone_name not in zones:
                continue
            zone = zones[zone_name]
            groups = rollback_changes(chosen, provider.records(zone), owner)
            batches, oversized = pack(groups, provider.limits, provider.cost)
            for too_big in oversized:
                print(f"cannot restore {too_big.about}: {too_big.message}", file=sys.stderr)
            for batch in batches:
                for change in batch.changes:
                    print(f"{'would ' if args.dry_run else ''}{change}")
                if not args.dry_run:
                    provider.apply(zone, batch.changes)
            if not args.dry_run:
                store.forget(args.provider, zone_name, chosen)
            restored += len(chosen)
    except ProviderError as exc:
        print(f"dnslb dns rollback: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"{'would restore' if args.dry_run else 'restored'} {restored} record set(s)")
    return 0
