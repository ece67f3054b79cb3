"""`dnslb dns rollback`: put back the record sets that takeover replaced, exactly as they were."""

from __future__ import annotations

import argparse
import sys
from functools import partial

import urllib3
from kubernetes.client import ApiClient, CoreV1Api, CustomObjectsApi
from kubernetes.client.rest import ApiException

from dnslb.adapters.dnssync.plugins import create
from dnslb.adapters.dnssync.sync import ProviderSync
from dnslb.adapters.kube.client import ClusterConfigError, api_client, describe
from dnslb.adapters.kube.dnsstate import Conflict, TakeoverStore, read_secret
from dnslb.app.ops import add_cluster_arguments
from dnslb.core.config import load_config
from dnslb.core.config.resources import API_VERSION, GROUP, VERSION
from dnslb.core.dns.batch import pack
from dnslb.core.dns.changes import rollback_changes
from dnslb.core.dns.registry import ownership_name
from dnslb.core.manifests import Document
from dnslb.provider import NameReader, ProviderError, RecordSet, Zone


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--provider", required=True, help="the DNSProvider whose taken-over records to restore")
    parser.add_argument(
        "--hostname", action="append", default=[], help="only this name (repeatable) (default: every name)"
    )
    add_cluster_arguments(parser)
    parser.add_argument(
        "--namespace", default="dnslb-system", help="where the DNSProvider and its state live (default dnslb-system)"
    )
    parser.add_argument(
        "--owner-id", default="dnslb", help="the controller's --owner-id (default dnslb; DNSProvider.ownerID wins)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the changes without sending them (default: send them)"
    )


def rollback(args: argparse.Namespace) -> int:
    """Exit codes: 0 restored (or, with --dry-run, printed); 1 the API or the provider failed on the way; 2 nothing
    to do it with (no cluster configured, no such DNSProvider, takeover still on). Errors are one line each."""
    try:
        api = api_client(args.kubeconfig, args.api_server)
    except ClusterConfigError as exc:
        return _fail(str(exc), 2)
    try:
        return _rollback(args, api)
    except ApiException as exc:
        return _fail(f"the API server at {api.configuration.host} refused a call: {describe(exc)}", 1)
    except urllib3.exceptions.HTTPError as exc:  # the client wraps connection errors in these
        return _fail(f"cannot reach the API server at {api.configuration.host}: {describe(exc)}", 1)
    except Conflict as exc:
        return _fail(f"the takeover state changed under the rollback: {exc}; run it again", 1)
    finally:
        api.close()


def _fail(message: str, code: int) -> int:
    print(f"dnslb dns rollback: {' '.join(message.split())}", file=sys.stderr)
    return code


def _rollback(args: argparse.Namespace, api: ApiClient) -> int:
    core, custom = CoreV1Api(api), CustomObjectsApi(api)
    try:
        body = custom.get_namespaced_custom_object(GROUP, VERSION, args.namespace, "dnsproviders", args.provider)
    except ApiException as exc:
        if exc.status != 404:
            raise
        return _fail(f"DNSProvider {args.namespace}/{args.provider} does not exist (HTTP 404)", 2)
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
        # paced and retried as the controller does, so a rollback of a large zone is not throttled to a halt
        sync = ProviderSync(args.provider, spec, provider, owner, save_replaced=lambda zone, records: None)
        zones = {z.name: z for z in sync.call(provider.zones, "list zones", write=False)}
        restored = 0
        for zone_name, saved in sorted(store.load(args.provider).items()):
            chosen = [r for r in saved if not args.hostname or r.name in args.hostname]
            if not chosen or zone_name not in zones:
                continue
            zone = zones[zone_name]
            groups = rollback_changes(chosen, _standing(sync, zone, chosen), owner)
            batches, oversized = pack(groups, provider.limits, provider.cost)
            for too_big in oversized:
                print(f"cannot restore {too_big.about}: {too_big.message}", file=sys.stderr)
            for batch in batches:
                for change in batch.changes:
                    print(f"{'would ' if args.dry_run else ''}{change}")
                if not args.dry_run:
                    sync.call(partial(provider.apply, zone, batch.changes), f"restore in {zone.name}", write=True)
            if not args.dry_run:
                store.forget(args.provider, zone_name, chosen)
            restored += len(chosen)
    except ProviderError as exc:
        print(f"dnslb dns rollback: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"{'would restore' if args.dry_run else 'restored'} {restored} record set(s)")
    return 0


def _standing(sync: ProviderSync, zone: Zone, saved: list[RecordSet]) -> list[RecordSet]:
    """What stands now at the saved names and their ownership names: read name by name when the provider can."""
    provider = sync.provider
    if not isinstance(provider, NameReader):
        return sync.call(partial(provider.records, zone), f"read {zone.name}", write=False)
    names = sorted({r.name for r in saved} | {ownership_name(r.name) for r in saved})
    return [
        record
        for name in names
        for record in sync.call(partial(provider.records_at, zone, [name]), f"read {name}", write=False)
    ]
