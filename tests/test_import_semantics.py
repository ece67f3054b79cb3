"""What `dnslb import` must not change: each test is one behaviour of MetalLB or external-dns that the imported
resources keep (docs/compatibility.md cites them by name). They run the real command, as tests/test_import.py does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dnslb.app.cli import main

Body = dict[str, Any]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def imported(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str) -> tuple[int, dict[Any, Body], str, str]:
    """Exit code, (kind, name) → resource, stderr, and stdout as printed."""
    path = tmp_path / "input.yaml"
    path.write_text(text)
    code, out, err = run(capsys, "import", "-f", str(path))
    found = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out) if d} if code != 2 else {}
    return code, found, err, out


def metallb(kind: str, name: str, spec: str, version: str = "v1beta1") -> str:
    return (
        f"---\napiVersion: metallb.io/{version}\nkind: {kind}\nmetadata: {{name: {name}, namespace: metallb-system}}\n"
        f"spec:\n{spec}\n"
    )


POOL = metallb("IPAddressPool", "public", "  addresses: [192.0.2.0/24]")
PEER = metallb("BGPPeer", "tor", "  myASN: 64512\n  peerASN: 64500\n  peerAddress: 10.0.0.1\n", "v1beta2")


# ---- MetalLB ---------------------------------------------------------------------------------------------------


def test_dangling_advertisement_announces_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The issue's example: MetalLB's docs write communities unquoted, and an advertisement whose pool names are
    all missing means nothing (MetalLB skips a missing pool), never every pool."""
    text = (
        POOL
        + PEER
        + metallb("Community", "names", "  communities:\n    - name: vpn-only\n      value: 64512:1")
        + metallb("BGPAdvertisement", "tagged", "  ipAddressPools: [public]\n  communities: [65000:42, vpn-only]")
        + metallb("BGPAdvertisement", "dangling", "  ipAddressPools: [gone, also-gone]\n  communities: [65000:7]")
    )
    code, found, err, out = imported(capsys, tmp_path, text)
    assert code == 3, err
    assert found[("BGPAdvertisement", "tagged")]["spec"] == {
        "addressPools": ["public"],
        "communities": ["65000:42", "64512:1"],  # as written; PyYAML alone reads 3900042 and 3870721
    }
    assert "'65000:42'" in out  # quoted on the way out, so that any YAML reader keeps it a string
    assert ("BGPAdvertisement", "dangling") not in found  # written without its names, it would cover every pool
    assert "BGPAdvertisement/dangling: spec.ipAddressPools: no IPAddressPool gone in the input; left out" in err
    assert (
        "BGPAdvertisement/dangling: none of the pools in spec.ipAddressPools is in the input: it announces nothing; "
        "BGPAdvertisement left out"
    ) in err
    assert all(line.startswith("note: ") for line in err.splitlines())

    # and dnslb plan reads the result as the cluster would: a valid config
    config = tmp_path / "dnslb.yaml"
    config.write_text(out)
    services = tmp_path / "services.yaml"
    services.write_text("apiVersion: v1\nkind: List\nitems: []\n")
    code, _, err = run(capsys, "plan", "-f", str(config), "-f", str(services))
    assert code == 0, err


def test_unquoted_community_kept_as_written_by_plan(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """By `dnslb plan -f` too: a dnslb BGPAdvertisement and a Service annotation written unquoted."""
    config = tmp_path / "config.yaml"
    config.write_text(
        "apiVersion: dnslb.io/v1alpha1\nkind: AddressPool\nmetadata: {name: p, namespace: dnslb-system}\n"
        "spec: {addresses: [192.0.2.0/24]}\n---\n"
        "apiVersion: dnslb.io/v1alpha1\nkind: BGPAdvertisement\nmetadata: {name: a, namespace: dnslb-system}\n"
        "spec:\n  communities: [65000:42]\n"
    )
    services = tmp_path / "services.yaml"
    services.write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: default\n  annotations:\n"
        "    dnslb.io/bgp-communities: 65000:42\nspec:\n  type: LoadBalancer\n  ports: [{port: 80}]\n"
    )
    code, out, err = run(capsys, "plan", "-f", str(config), "-f", str(services), "-o", "json")
    assert code == 0, err  # PyYAML alone: "communities[0]: expected a string", and an annotation that is no string
    assert "web" in out


def test_dangling_peer_list_announces_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = POOL + PEER + metallb("BGPAdvertisement", "to-nobody", "  peers: [no-such-router]")
    code, found, err, _ = imported(capsys, tmp_path, text)
    assert code == 3
    assert ("BGPAdvertisement", "to-nobody") not in found  # written without peers, it would go to every peer
    assert "BGPAdvertisement/to-nobody: spec.peers: BGPPeer no-such-router is not carried over; left out" in err
    assert "BGPAdvertisement/to-nobody: none of the peers in spec.peers is carried over" in err


def test_dangling_pool_names_beside_a_selector_keep_the_selector_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = "  ipAddressPools: [gone]\n  ipAddressPoolSelectors: [{matchLabels: {exposure: internal}}]"
    code, found, err, _ = imported(capsys, tmp_path, POOL + PEER + metallb("BGPAdvertisement", "picked", spec))
    assert code == 3, err
    assert "spec.ipAddressPools: no IPAddressPool gone in the input; left out" in err
    # MetalLB: the named pools that exist and the selected ones; here only the selector's, never every pool
    assert found[("BGPAdvertisement", "picked")]["spec"] == {
        "addressPoolSelectors": [{"matchLabels": {"exposure": "internal"}}]
    }


def test_an_empty_pool_list_is_every_pool(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The other side of the rule: no names at all (or `[]`) means every pool, in MetalLB and in dnslb."""
    code, found, err, _ = imported(
        capsys, tmp_path, POOL + PEER + metallb("BGPAdvertisement", "all", "  ipAddressPools: []")
    )
    assert code == 0, err
    assert found[("BGPAdvertisement", "all")]["spec"] == {}


def test_unset_bgp_timers_are_written_as_metallbs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, found, err, _ = imported(capsys, tmp_path, PEER)
    assert code == 0, err
    spec = found[("BGPPeer", "tor")]["spec"]
    # MetalLB's native speaker holds 90 s and sends keepalives every 30 s; dnslb's own default (9 s) must not apply
    assert (spec["holdTime"], spec["keepaliveTime"]) == (90, 30)


@pytest.mark.parametrize(
    ("timers", "hold", "keepalive"),
    [
        ("holdTime: 1m30s", 90, 30),
        ("holdTime: 9m0s", 540, 180),  # as metav1.Duration prints it
        ("holdTime: 1.5m", 90, 30),
        ("holdTime: 10s", 10, 3),  # 3.33 s cut down, as MetalLB hands whole seconds to FRR
        ("holdTime: 4500ms", 4, 1),
        ("keepaliveTime: 20s", 60, 20),  # a keepalive alone: hold three times that
        ("holdTime: 1h, keepaliveTime: 20m", 3600, 1200),
    ],
)
def test_bgp_timers_are_go_durations(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, timers: str, hold: int, keepalive: int
) -> None:
    text = metallb("BGPPeer", "r", f"  {{myASN: 64512, peerASN: 64500, peerAddress: 10.0.0.1, {timers}}}", "v1beta2")
    code, found, err, _ = imported(capsys, tmp_path, text)
    assert code == 0, err
    spec = found[("BGPPeer", "r")]["spec"]
    assert (spec["holdTime"], spec["keepaliveTime"]) == (hold, keepalive)


@pytest.mark.parametrize(
    ("timers", "message"),
    [
        ("holdTime: 2s", "BGPPeer/r spec.holdTime: 2 s: MetalLB needs 0 or at least 3 s"),
        ("holdTime: 30s, keepaliveTime: 31s", "BGPPeer/r spec.keepaliveTime: 31 s: MetalLB needs it at most holdTime"),
        ("holdTime: 90", "BGPPeer/r spec.holdTime: expected a string (a duration like 90s), got '90'"),
        ("holdTime: 90sec", "BGPPeer/r spec.holdTime: '90sec' is not a duration: unknown unit 'sec'"),
        ("holdTime: '-90s'", "BGPPeer/r spec.holdTime: '-90s' is not a duration: a duration here cannot be negative"),
    ],
)
def test_timers_metallb_refuses_are_invalid(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, timers: str, message: str
) -> None:
    text = metallb("BGPPeer", "r", f"  {{myASN: 64512, peerASN: 64500, peerAddress: 10.0.0.1, {timers}}}", "v1beta2")
    code, _, err, out = imported(capsys, tmp_path, text)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and message in err, err


# ---- external-dns ------------------------------------------------------------------------------------------------

IMAGE = "registry.k8s.io/external-dns/external-dns:v0.15.1"


def deployment(name: str, containers: list[Body]) -> str:
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "external-dns"},
        "spec": {"template": {"spec": {"containers": containers}}},
    }
    return "---\n" + yaml.safe_dump(body)


def external_dns(args: list[str], env: list[Body] | None = None, name: str = "external-dns") -> Body:
    return {"name": name, "image": IMAGE, "args": args, "env": env or []}


def provider_spec(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str) -> tuple[int, Body, str]:
    code, found, err, _ = imported(capsys, tmp_path, text)
    assert code != 2, err
    return code, found[("DNSProvider", "dns")]["spec"], err


RFC2136 = ["--source=service", "--provider=rfc2136", "--rfc2136-host=10.0.0.53", "--rfc2136-tsig-axfr"]


@pytest.mark.parametrize(
    ("filters", "zones", "expected"),
    [
        (["x.a.test"], ["a.test", "b.test"], ["x.a.test"]),  # the filter within a zone
        (["test"], ["a.test", "b.test"], ["a.test", "b.test"]),  # the zones within the filter
        (["b.test", "other.test"], ["a.test", "b.test"], ["b.test"]),  # only what both admit
        (["a.test"], ["a.test"], ["a.test"]),
    ],
)
def test_domain_filter_and_zones_narrow_each_other(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, filters: list[str], zones: list[str], expected: list[str]
) -> None:
    args = [*RFC2136, f"--rfc2136-zone={','.join(zones)}", *(f"--domain-filter={f}" for f in filters)]
    _, spec, _ = provider_spec(capsys, tmp_path, deployment("dns", [external_dns(args)]))
    # dnslb's zones and domainFilters each admit a name: written both, they would widen; so the intersection
    assert spec["domainFilters"] == expected and "zones" not in spec
    assert spec["settings"]["zones"] == ",".join(zones)  # the zones dnslb reads and updates


def test_domain_filter_outside_the_zones_publishes_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = [*RFC2136, "--rfc2136-zone=a.test", "--domain-filter=other.test"]
    _, spec, err = provider_spec(capsys, tmp_path, deployment("dns", [external_dns(args)]))
    assert spec["domainFilters"] == ["other.test"]  # never an empty list, which would admit every name
    assert "--domain-filter other.test: no name lies both within it and in the zones (a.test)" in err


def test_txt_owner_id_defaults_to_default(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, spec, _ = provider_spec(capsys, tmp_path, deployment("dns", [external_dns(RFC2136)]))
    assert spec["ownerID"] == "default"  # external-dns's default, not the dnslb controller's --owner-id
    hidden = [{"name": "EXTERNAL_DNS_TXT_OWNER_ID", "valueFrom": {"secretKeyRef": {"name": "ids", "key": "owner"}}}]
    _, spec, err = provider_spec(capsys, tmp_path, deployment("dns", [external_dns(RFC2136, hidden)]))
    assert "ownerID" not in spec  # not "default": the real one is in a Secret
    assert "--txt-owner-id is in Secret external-dns/ids key owner, not seen here: set spec.ownerID to it" in err


def test_flags_come_from_args_and_environment_and_the_flag_wins(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env = [
        {"name": "EXTERNAL_DNS_POLICY", "value": "upsert-only"},  # --policy below wins
        {"name": "EXTERNAL_DNS_TXT_OWNER_ID", "value": "from-env"},
        {"name": "EXTERNAL_DNS_DOMAIN_FILTER", "value": "a.test\nb.test"},  # kingpin: one value a line
        {"name": "EXTERNAL_DNS_RFC2136_ZONE", "value": "a.test\nb.test"},
        {"name": "OTHER", "value": "ignored"},
    ]
    _, spec, _ = provider_spec(
        capsys, tmp_path, deployment("dns", [external_dns([*RFC2136, "--policy=create-only"], env)])
    )
    assert spec["policy"] == "create-only"
    assert spec["ownerID"] == "from-env"
    assert spec["domainFilters"] == ["a.test", "b.test"]
    assert spec["settings"]["zones"] == "a.test,b.test"


def test_webhook_sidecar_is_not_taken_for_external_dns(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sidecar = {"name": "unifi", "image": "ghcr.io/kashalls/external-dns-unifi-webhook:v0.4", "args": ["--log=debug"]}
    served = {  # external-dns itself serving an in-tree provider to the other over the webhook API
        "name": "aws-server",
        "image": IMAGE,
        "args": ["--source=service", "--provider=aws", "--webhook-server"],
    }
    main_container = external_dns(["--source=service", "--provider=webhook", "--domain-filter=example.test"])
    _, spec, err = provider_spec(capsys, tmp_path, deployment("dns", [sidecar, served, main_container]))
    assert spec["type"] == "webhook" and spec["domainFilters"] == ["example.test"]
    assert "the webhook server (container unifi, aws-server of external-dns's pod) must run as a sidecar" in err


def test_a_provider_flag_alone_is_not_external_dns(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    oauth2_proxy = {"name": "proxy", "image": "quay.io/oauth2-proxy/oauth2-proxy:v7", "args": ["--provider=github"]}
    code, _, err, _ = imported(capsys, tmp_path, deployment("auth", [oauth2_proxy]))
    assert code == 2 and "no MetalLB or external-dns objects in" in err


def test_secrets_in_args_or_env_go_to_a_secret_and_are_never_printed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    secrets = ["tsig-in-env-c2VjcmV0", "pdns-key-in-args", "aws-secret-in-env", "aes-key-in-args", "s3cr3t-bgp-value"]
    rfc2136 = external_dns(
        [*RFC2136, "--rfc2136-zone=a.test", "--rfc2136-tsig-secret=$(TSIG)", f"--txt-encrypt-aes-key={secrets[3]}"],
        [{"name": "TSIG", "value": secrets[0]}],
    )
    pdns = external_dns(["--source=service", "--provider=pdns", f"--pdns-api-key={secrets[1]}"])
    aws = external_dns(
        ["--source=service", "--provider=aws"],
        [{"name": "AWS_ACCESS_KEY_ID", "value": "AKIAEXAMPLE"}, {"name": "AWS_SECRET_ACCESS_KEY", "value": secrets[2]}],
    )
    peer = metallb(
        "BGPPeer", "tor", f"  {{myASN: 1, peerASN: 2, peerAddress: 10.0.0.1, password: {secrets[4]}}}", "v1beta2"
    )
    text = deployment("dns", [rfc2136]) + deployment("pdns", [pdns]) + deployment("aws", [aws]) + peer
    code, found, err, out = imported(capsys, tmp_path, text)
    assert code == 3, err
    for secret in secrets:
        assert secret not in out + err
    assert found[("DNSProvider", "dns")]["spec"]["secretRef"] == {"name": "dns-tsig"}
    assert found[("DNSProvider", "pdns")]["spec"]["secretRef"] == {"name": "pdns-pdns"}
    assert found[("DNSProvider", "aws")]["spec"]["secretRef"] == {"name": "aws-aws"}
    assert found[("BGPPeer", "tor")]["spec"]["passwordSecret"] == {"name": "tor-bgp-password"}
    assert "the TSIG secret (now in the Deployment's args) is not copied into the output: put it in Secret " in err
    assert "dnslb-system/dns-tsig, key tsigSecret" in err
    assert "the PowerDNS API key (now in the Deployment's args) is not copied" in err
    assert "AWS_SECRET_ACCESS_KEY: the Deployment's env AWS_SECRET_ACCESS_KEY" in err
    assert "spec.password is not copied into the output: put it in Secret dnslb-system/tor-bgp-password" in err


def test_a_zero_duration_flag_asks_for_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--rfc2136-min-ttl is a Go duration: 0s, 0m and 0h all mean none."""
    for zero in ("0s", "0m", "0h", "0"):
        _, _, err = provider_spec(
            capsys, tmp_path, deployment("dns", [external_dns([*RFC2136, f"--rfc2136-min-ttl={zero}"])])
        )
        assert "--rfc2136-min-ttl" not in err
    _, _, err = provider_spec(capsys, tmp_path, deployment("dns", [external_dns([*RFC2136, "--rfc2136-min-ttl=1m"])]))
    assert "--rfc2136-min-ttl: dnslb has no minimum TTL; left out" in err


def test_ingress_class_and_tls_flags_carry_over_as_the_controllers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["--source=ingress", "--provider=rfc2136", "--rfc2136-host=10.0.0.53", "--ingress-class=nginx",
            "--ignore-ingress-tls-spec"]  # fmt: skip
    _, _, err = provider_spec(capsys, tmp_path, deployment("dns", [external_dns(args)]))
    assert "sources: run the controller with --source=ingress --ingress-class=nginx --ignore-ingress-tls-spec" in err
    assert "--ingress-class: " not in err and "left out" not in err.split("sources:")[1].split("\n")[0]


def test_an_imported_keepalive_other_than_a_third_of_the_hold_time_is_said(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = metallb("BGPPeer", "r", "  {myASN: 64512, peerASN: 64500, peerAddress: 10.0.0.1, holdTime: 90s, "
                   "keepaliveTime: 10s}", "v1beta2")  # fmt: skip
    code, found, err, _ = imported(capsys, tmp_path, text)
    assert code == 3 and found[("BGPPeer", "r")]["spec"]["keepaliveTime"] == 10
    assert "spec.keepaliveTime 10 s: dnslb's speaker (ExaBGP) sends a keepalive every holdTime / 3 (30 s)" in err
