"""`dnslb import` as a user runs it: MetalLB and external-dns manifests in, dnslb resources out that `dnslb plan`
accepts and that give each Service the address MetalLB gives it; on stderr what does not carry over; exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dnslb.app.cli import main

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "examples/metallb"
SERVICES = EXAMPLES / "services.yaml"

Body = dict[str, Any]


def run_import(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, list[str]]:
    code = main(["import", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


def resources(output: str) -> dict[tuple[str, str], Body]:
    """(kind, name) → resource, from the YAML stream `dnslb import` prints."""
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(output) if d}


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def import_text(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str) -> tuple[int, dict[Any, Body], str]:
    code, out, err = run_import(capsys, "-f", write(tmp_path, "input.yaml", text))
    return code, resources(out) if code != 2 else {}, "\n".join(err)


# ---- the examples ----------------------------------------------------------------------------------------------


def test_examples_import_with_a_note_for_each_thing_lost(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_import(capsys, "-f", str(EXAMPLES))
    assert code == 3  # some things cannot carry over
    assert out.startswith("# dnslb resources made by `dnslb import`")
    assert sorted(resources(out)) == sorted(
        [("AddressPool", p) for p in ("public", "databases", "jobs", "internal", "reserved", "lab")]
        + [("BGPPeer", p) for p in ("tor-a", "tor-b", "edge-v6")]
        + [("BGPAdvertisement", a) for a in ("public-local", "public-aggregate", "internal-pools", "reserved")]
        + [("DNSProvider", "external-dns-internal"), ("DNSProvider", "external-dns-public")]
    )
    assert all(line.startswith("note: examples/metallb/") or line.startswith(f"note: {EXAMPLES}") for line in err)
    by_subject = "\n".join(err)
    assert "L2Advertisement/lab: dnslb has no layer 2 (ARP/NDP) mode" in by_subject
    assert "IPAddressPool/lab: pool lab was announced by L2Advertisement only" in by_subject
    assert "BFDProfile/fast-failover: dnslb has no BFD" in by_subject
    assert "BGPPeer/tor-a: spec.bfdProfile fast-failover: dnslb has no BFD" in by_subject
    assert "BGPPeer/tor-b: spec.bfdProfile fast-failover: dnslb has no BFD" in by_subject
    assert "BGPAdvertisement/premium: spec.serviceSelectors" in by_subject
    assert 'dnslb.io/bgp-local-pref: "200"' in by_subject
    assert "BGPPeer/tor-b: spec.password is not copied into the output" in by_subject
    assert "example-only-replace-me" not in out + by_subject  # a secret value is never printed
    assert "copy Secret metallb-system/tor-a-bgp-password there" in by_subject
    assert "Deployment/external-dns-internal: sources: run the controller with --source=service,ingress" in by_subject
    assert "Deployment/external-dns-public: sources: run the controller with --source=service " in by_subject
    assert "Deployment/external-dns-internal: an Ingress or route that loses its status addresses keeps" in by_subject
    assert "Deployment/external-dns-public: publishWhen: Announced (dnslb's default) publishes a name" in by_subject
    # nothing else: every other field carried over
    assert len(err) == 18, by_subject


def test_examples_plan_gives_each_service_metallbs_address(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_import(capsys, "-f", str(EXAMPLES))
    assert code == 3
    config = write(tmp_path, "dnslb.yaml", out)
    code = main(["plan", "-f", config, "-f", str(SERVICES), "-o", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err  # valid config, every Service an address, every hostname in a zone
    assert "error" not in captured.err
    plan = json.loads(captured.out)
    got = {f"{s['namespace']}/{s['name']}": (s["pool"], s["ips"]) for s in plan["services"]}
    # What MetalLB gives each Service, from its documented rules:
    assert got == {
        # public fits namespace web (serviceAllocation priority 10; databases and jobs do not fit): its first
        # IPv4 address is 198.51.100.0, which avoidBuggyIPs skips
        "web/frontend": ("public", ["198.51.100.1"]),
        # the address-pool annotation names reserved (autoAssign false is no bar when asked by name); no
        # avoidBuggyIPs there, so its first address, .0, is handed out
        "web/partner-api": ("reserved", ["203.0.113.0"]),
        # loadBalancerIPs asks for this address of pool internal
        "shop/checkout": ("internal", ["10.200.1.20"]),
        # no serviceAllocation fits monitoring: the auto-assign pools without one, internal the only such; .0 skipped
        "monitoring/grafana": ("internal", ["10.200.0.1"]),
        # databases fits (namespace labelled team=data, Service labelled tier=database) and has the lowest
        # priority (5); no avoidBuggyIPs, so .0
        "data/postgres": ("databases", ["10.200.2.0"]),
        # jobs has a serviceAllocation without a priority: after those with one, before internal (which has no
        # serviceAllocation); .0 skipped
        "jobs/reports": ("jobs", ["10.200.3.1"]),
    }
    changes = {(d["provider"], d["change"]) for d in plan["dns"]}
    assert ("external-dns-public", "create www.example.org 60 A 198.51.100.1") in changes
    assert ("external-dns-internal", "create pg.corp.example.test 300 A 10.200.2.0") in changes


def test_examples_external_dns_become_dns_providers(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_import(capsys, "-f", str(EXAMPLES / "external-dns.yaml"))
    assert code == 3
    found = resources(out)
    assert found[("DNSProvider", "external-dns-internal")]["spec"] == {
        "type": "rfc2136",
        "domainFilters": ["corp.example.test"],
        "ownerID": "prod-cluster",
        "policy": "sync",
        "takeover": False,
        "settings": {
            "server": "10.0.0.53",
            "zones": "corp.example.test",
            "tsigKeyName": "externaldns-key",
            "tsigAlgorithm": "hmac-sha256",
        },
        "secretRef": {"name": "external-dns-internal-tsig"},
    }
    assert found[("DNSProvider", "external-dns-public")]["spec"] == {
        "type": "route53",
        "domainFilters": ["example.org"],
        "ownerID": "prod-cluster",
        "policy": "upsert-only",
        "takeover": False,
        "settings": {"region": "eu-west-1"},
    }
    notes = "\n".join(err)
    assert (
        "the TSIG secret (now in Secret external-dns/rfc2136-keys key rfc2136-tsig-secret) is not copied into the "
        "output: put it in Secret dnslb-system/external-dns-internal-tsig, key tsigSecret"
    ) in notes
    assert (
        "ownership records differ: external-dns marks the names it owns with TXT records with prefix 'extdns-" in notes
    )
    assert notes.count("dnslb writes its own, a TXT record at _dnslb.<name>") == 2
    assert "--aws-zone-type=public: dnslb's route53 provider has no zone-type filter" in notes
    assert "give its ServiceAccount dnslb-system/dnslb-controller the same IAM role" in notes


def test_examples_as_json_list_and_in_another_namespace(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_import(capsys, "-f", str(EXAMPLES), "-o", "json", "--namespace", "lb")
    assert code == 3
    document = json.loads(out)
    assert document["kind"] == "List" and len(document["items"]) == 15
    assert {item["metadata"]["namespace"] for item in document["items"]} == {"lb"}
    config = write(tmp_path, "dnslb.json", out)
    assert main(["plan", "-f", config, "-f", str(SERVICES), "--namespace", "lb"]) == 0, capsys.readouterr().err


# ---- exit codes --------------------------------------------------------------------------------------------------

CLEAN = """
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: pool, namespace: metallb-system}
spec:
  addresses: [192.0.2.0/24]
  avoidBuggyIPs: true
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: router, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64500, peerAddress: 192.0.2.254, holdTime: 9s}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: all, namespace: metallb-system}
---
apiVersion: v1
kind: Service
metadata: {name: passed-over}
"""


def test_everything_carried_over_is_exit_zero_and_reads_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(CLEAN))
    code, out, err = run_import(capsys, "-f", "-")
    assert (code, err) == (0, [])
    found = resources(out)
    assert found[("BGPPeer", "router")]["spec"] == {
        "myASN": 64512,
        "peerASN": 64500,
        "peerAddress": "192.0.2.254",
        "holdTime": 9,
        "keepaliveTime": 3,  # MetalLB's hold / 3, written out
    }
    assert found[("BGPAdvertisement", "all")]["spec"] == {}  # every pool, to every peer: as MetalLB's
    assert ("Service", "passed-over") not in found


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: [unclosed", "input.yaml line 1: not valid YAML"),
        (
            CLEAN.replace("192.0.2.0/24", "192.0.2.300/24"),
            "IPAddressPool/pool spec.addresses[0]: '192.0.2.300/24' is neither a CIDR nor a FIRST-LAST range",
        ),
        (CLEAN.replace("holdTime: 9s", "holdTime: 9"), "BGPPeer/router spec.holdTime: expected a string"),
        (CLEAN.replace("holdTime: 9s", "holdTime: soon"), "BGPPeer/router spec.holdTime: 'soon' is not a duration"),
        (
            CLEAN.replace("192.0.2.0/24", "192.0.2.9-192.0.2.1"),
            "AddressPool/dnslb-system/pool spec.addresses[0]: '192.0.2.9-192.0.2.1' is reversed",
        ),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n", "no MetalLB or external-dns objects in"),
    ],
)
def test_invalid_input_is_exit_two_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, message: str
) -> None:
    code, out, err = run_import(capsys, "-f", write(tmp_path, "input.yaml", text))
    assert (code, out) == (2, "")
    assert len(err) == 1 and message in err[0], err


def test_a_missing_file_is_exit_two_with_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run_import(capsys, "-f", str(tmp_path / "nope.yaml"))
    assert (code, out) == (2, "")
    assert err == [f"dnslb import: {tmp_path / 'nope.yaml'}: cannot read it: No such file or directory"]


def test_every_flag_says_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["import", "--help"])
    text = " ".join(capsys.readouterr().out.split()).partition("options:")[2]
    for flag in ("-f FILE, --filename FILE", "--namespace NAMESPACE", "-o {yaml,json}, --output {yaml,json}"):
        assert flag in text
        assert "default" in text.partition(flag)[2].partition(" -")[0], flag


# ---- MetalLB's rules ---------------------------------------------------------------------------------------------


def pool(name: str, spec: str, labels: str = "{}") -> str:
    return f"""---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {{name: {name}, namespace: metallb-system, labels: {labels}}}
spec: {spec}
"""


def test_pools_keep_metallbs_order_and_meaning(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = (
        pool("b-pinned", "{addresses: ['10.1.0.10/24'], serviceAllocation: {namespaces: [x]}}")
        + pool("a-first", "{addresses: [10.2.0.0/24], serviceAllocation: {priority: 7, serviceSelectors: []}}")
        + pool("c", "{addresses: [' 10.3.0.1 - 10.3.0.9 ', 10.3.1.0/24], autoAssign: false}")
        + pool("d", "{addresses: [10.4.1.0/24, 10.4.0.0/24]}")
        + pool("e", "{addresses: [10.5.0.0/24], avoidBuggyIPs: true}")
    )
    code, found, notes = import_text(capsys, tmp_path, text)
    assert code == 3
    spec = {name: found[("AddressPool", name)]["spec"] for _, name in found}
    # a serviceAllocation without a priority still comes before the pools without one: just above the highest
    assert spec["b-pinned"] == {"addresses": ["10.1.0.0/24"], "serviceAllocation": {"priority": 8, "namespaces": ["x"]}}
    assert spec["a-first"] == {"addresses": ["10.2.0.0/24"], "serviceAllocation": {"priority": 7}}
    assert spec["c"] == {"addresses": ["10.3.0.1-10.3.0.9", "10.3.1.0/24"], "autoAssign": False}
    assert spec["e"] == {"addresses": ["10.5.0.0/24"], "avoidBuggyIPs": True}
    assert "MetalLB hands out the first listed range's addresses first" not in notes  # dnslb does so too
    assert "pools d, e (without a serviceAllocation): MetalLB picks among them in no fixed order" in notes
    assert "IPAddressPool/c:" not in notes  # not auto-assigned: never in a tie


METALLB_TIMERS = {"holdTime": 90, "keepaliveTime": 30}  # MetalLB's when a BGPPeer sets neither

PEER = """---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {{name: {name}, namespace: metallb-system}}
spec: {spec}
"""


@pytest.mark.parametrize(
    ("spec", "expected", "note"),
    [
        # a keepalive alone means a hold time three times as long
        ("{keepaliveTime: 1m}", {"holdTime": 180, "keepaliveTime": 60}, None),
        (
            "{holdTime: 1m30s, keepaliveTime: 10s}",
            {"holdTime": 90, "keepaliveTime": 10},
            "spec.keepaliveTime 10 s: dnslb's speaker (ExaBGP) sends a keepalive every holdTime / 3 (30 s)",
        ),
        ("{holdTime: 10s}", {"holdTime": 10, "keepaliveTime": 3}, None),  # 3.33 s, cut down as MetalLB hands it FRR
        ("{holdTime: 0s}", {"holdTime": 9, "keepaliveTime": 3}, "spec.holdTime 0 s (no hold timer): dnslb notices"),
        ("{holdTime: 9s, keepaliveTime: 9s}", {"holdTime": 9, "keepaliveTime": 3}, "not below holdTime for dnslb"),
        ("{dynamicASN: internal, peerASN: null}", {"peerASN": 64512} | METALLB_TIMERS, None),
        ("{vrf: red}", METALLB_TIMERS, "spec.vrf: dnslb peers from the nodes' default VRF only; left out"),
        ("{localASN: 65000}", METALLB_TIMERS, "spec.localASN: dnslb has no local-as override"),
        ("{frobnicate: 1}", METALLB_TIMERS, "spec.frobnicate: not a field dnslb import knows; left out"),
        ("{disableMP: false, ebgpMultiHop: false}", METALLB_TIMERS, None),
    ],
)
def test_peer_fields(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, spec: str, expected: Body, note: str | None
) -> None:
    base = "{myASN: 64512, peerASN: 64500, peerAddress: 192.0.2.1, "
    code, found, notes = import_text(capsys, tmp_path, PEER.format(name="r", spec=base + spec.lstrip("{")))
    assert code == (3 if note else 0), notes
    assert found[("BGPPeer", "r")]["spec"] == {"myASN": 64512, "peerASN": 64500, "peerAddress": "192.0.2.1"} | expected
    if note:
        assert note in notes


def test_peers_that_cannot_be_and_the_advertisements_that_need_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = (
        pool("p", "{addresses: ['2001:db8::/64']}")
        + PEER.format(name="unnumbered", spec="{myASN: 64512, peerASN: 64500, interface: eth0}")
        + PEER.format(name="v4", spec="{myASN: 64512, dynamicASN: external, peerAddress: 192.0.2.1}")
        + PEER.format(name="kept", spec="{myASN: 64512, peerASN: 64500, peerAddress: 192.0.2.2}")
        + """---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: to-unnumbered}
spec: {peers: [unnumbered]}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: mixed}
spec: {ipAddressPools: [p, gone], peers: [kept, v4]}
"""
    )
    code, found, notes = import_text(capsys, tmp_path, text)
    assert code == 3
    assert ("BGPPeer", "unnumbered") not in found and ("BGPPeer", "v4") not in found
    assert "BGPPeer/unnumbered: spec.interface eth0: dnslb peers with a peerAddress only" in notes
    assert "BGPPeer/v4: spec.dynamicASN external: dnslb needs the router's ASN in peerASN; BGPPeer left out" in notes
    # left with no peer, it would go to every peer: left out
    assert ("BGPAdvertisement", "to-unnumbered") not in found
    assert "BGPAdvertisement/to-unnumbered: none of the peers in spec.peers is carried over" in notes
    assert found[("BGPAdvertisement", "mixed")]["spec"] == {"addressPools": ["p"], "peers": ["kept"]}
    assert "spec.ipAddressPools: no IPAddressPool gone in the input; left out" in notes
    assert "IPAddressPool/p: spec.addresses: no BGPPeer has an IPv6 peerAddress" in notes


def test_communities_resolve_aliases_written_as_metallbs_docs_write_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = """
apiVersion: metallb.io/v1beta1
kind: Community
metadata: {name: communities}
spec:
  communities:
    - {name: vpn-only, value: 1234:1}
    - {name: big, value: "large:64512:1:2"}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: tagged}
spec:
  communities: [vpn-only, big, 65535:65282, 64512:7, 1234:1, no-such-alias]
  localPref: 50
  aggregationLength: 24
"""
    code, found, notes = import_text(capsys, tmp_path, text)
    assert code == 3
    # unquoted 1234:1 and 64512:7 are strings to Kubernetes (PyYAML alone would read base-60 numbers)
    assert found[("BGPAdvertisement", "tagged")]["spec"] == {
        "localPref": 50,
        "communities": ["1234:1", "large:64512:1:2", "65535:65282", "64512:7"],
        "aggregationLength": 24,
    }
    assert "spec.communities[5]: 'no-such-alias' is no alias of a Community in the input; left out" in notes


def test_a_community_alias_defined_twice_is_invalid(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    community = "---\napiVersion: metallb.io/v1beta1\nkind: Community\nmetadata: {{name: {}}}\n"
    community += "spec: {{communities: [{{name: a, value: '1:1'}}]}}\n"
    code, _, notes = import_text(capsys, tmp_path, community.format("one") + community.format("two"))
    assert code == 2
    assert "Community/two spec.communities[0].name: community alias 'a' is defined twice" in notes


# ---- external-dns ------------------------------------------------------------------------------------------------


def deployment(args: list[str], env: str = "[]", sidecar: bool = False) -> str:
    containers: list[Body] = [
        {"name": "external-dns", "image": "registry.k8s.io/external-dns/external-dns:v0.14.2", "args": args}
    ]
    containers[0]["env"] = yaml.safe_load(env)
    if sidecar:
        containers.append({"name": "cloudflare-webhook", "image": "example.test/webhook:1"})
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "external-dns", "namespace": "external-dns"},
        "spec": {"template": {"spec": {"containers": containers}}},
    }
    return yaml.safe_dump(body)


def provider(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str) -> tuple[int, Body, str]:
    code, found, notes = import_text(capsys, tmp_path, text)
    return code, found[("DNSProvider", "external-dns")]["spec"] if code != 2 else {}, notes


def test_powerdns(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = ["--source=service", "--provider=pdns", "--pdns-server=http://pdns:8081", "--pdns-server-id=ns1"]
    args += ["--pdns-api-key=$(PDNS_KEY)", "--txt-owner-id=c1", "--domain-filter=.example.org", "--no-events"]
    env = """[{name: PDNS_KEY, valueFrom: {secretKeyRef: {name: pdns, key: api-key}}},
              {name: EXTERNAL_DNS_POLICY, valueFrom: {configMapKeyRef: {name: dns, key: policy}}}]"""
    code, spec, notes = provider(capsys, tmp_path, deployment(args, env))
    assert code == 3
    assert spec == {
        "type": "powerdns",
        "domainFilters": ["example.org"],
        "ownerID": "c1",
        "policy": "sync",  # external-dns's default before it made --policy required
        "takeover": False,
        "settings": {"url": "http://pdns:8081", "serverID": "ns1"},
        "secretRef": {"name": "external-dns-pdns"},
    }
    assert "the PowerDNS API key (now in Secret external-dns/pdns key api-key) is not copied" in notes
    assert "key apiKey" in notes
    assert "--policy is in ConfigMap external-dns/dns key policy, not seen here: set spec.policy to it" in notes
    assert "--domain-filter=.example.org: dnslb's domainFilters take example.org itself too" in notes


def test_rfc2136_secret_in_args_and_flags_lost(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = ["--source=service", "--source=crd", "--provider=rfc2136", "--rfc2136-host", "dns.example.test"]
    args += ["--rfc2136-zone=a.test,b.test", "--rfc2136-tsig-secret=c2VjcmV0", "--rfc2136-tsig-secret-alg=hmac-sha1"]
    args += ["--rfc2136-port=5353", "--policy=create-only", "--exclude-domains=x.a.test", "--rfc2136-use-tls"]
    code, spec, notes = provider(capsys, tmp_path, deployment(args))
    assert code == 3
    assert spec == {
        "type": "rfc2136",
        "zones": ["a.test", "b.test"],  # no domain filter: the zones the server serves
        "ownerID": "default",  # external-dns's --txt-owner-id when not given
        "policy": "create-only",
        "takeover": False,
        "settings": {"server": "dns.example.test", "port": "5353", "zones": "a.test,b.test"},
        "secretRef": {"name": "external-dns-tsig"},
    }
    assert "c2VjcmV0" not in notes
    assert "the TSIG secret (now in the Deployment's args) is not copied" in notes
    assert "--rfc2136-host=dns.example.test: dnslb's settings.server must be the server's IP address" in notes
    assert "--rfc2136-tsig-secret-alg=hmac-sha1: dnslb signs with" in notes
    assert "no --rfc2136-axfr: dnslb reads each zone by zone transfer (AXFR)" in notes
    assert "--rfc2136-use-tls: dnslb sends RFC 2136 updates over plain TCP only; left out" in notes
    assert "--exclude-domains: dnslb's domainFilters cannot exclude names" in notes
    assert "sources: run the controller with --source=service,dnsendpoint (deploy/ runs service,ingress; " in notes


def test_webhook_and_providers_dnslb_has_not(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = ["--source=service", "--provider=webhook", "--webhook-provider-url=http://localhost:8888"]
    code, spec, notes = provider(capsys, tmp_path, deployment(args, sidecar=True))
    assert (code, spec["type"], spec["settings"]) == (3, "webhook", {"url": "http://localhost:8888"})
    assert "the webhook server (container cloudflare-webhook of external-dns's pod) must run as a sidecar" in notes

    args = ["--source=service", "--provider=cloudflare", "--cloudflare-proxied", "--registry=noop"]
    code, spec, notes = provider(capsys, tmp_path, deployment(args))
    assert (code, spec["type"], spec["settings"]) == (3, "webhook", {"url": "http://localhost:8888"})
    assert "--provider=cloudflare: dnslb has no cloudflare provider, so this DNSProvider has type webhook" in notes
    assert "--cloudflare-proxied" not in notes  # covered by the note above: such flags go to the webhook server
    assert "external-dns kept no ownership records (--registry=noop)" in notes


def test_route53_with_access_keys(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    env = """[{name: AWS_ACCESS_KEY_ID, valueFrom: {secretKeyRef: {name: aws, key: id}}},
              {name: AWS_SECRET_ACCESS_KEY, valueFrom: {secretKeyRef: {name: aws, key: secret}}},
              {name: AWS_REGION, value: us-west-2}]"""
    args = ["--source=service", "--provider=aws", "--domain-filter=example.org", "--policy=bogus"]
    code, _, notes = provider(capsys, tmp_path, deployment(args, env))
    assert code == 2
    assert "Deployment/external-dns --policy: 'bogus' is not one of sync, upsert-only, create-only" in notes
    code, spec, notes = provider(capsys, tmp_path, deployment(args[:-1], env))
    assert code == 3
    assert spec["settings"] == {"region": "us-west-2"} and spec["secretRef"] == {"name": "external-dns-aws"}
    assert "keys AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY" in notes
    assert "AWS_ACCESS_KEY_ID: Secret external-dns/aws key id" in notes
