"""Config resources: strict validation, one error per problem, naming document, resource and field path."""

from __future__ import annotations

from pathlib import Path

import pytest

from dnslb.core.config import load_config
from dnslb.core.manifests import ManifestError, read_documents

ROOT = Path(__file__).parents[2]

POOL = """
apiVersion: dnslb.io/v1alpha1
kind: AddressPool
metadata: {{name: {name}}}
spec:
  addresses: {addresses}
"""
PEER = """
apiVersion: dnslb.io/v1alpha1
kind: BGPPeer
metadata: {{name: edge}}
spec: {spec}
"""


def errors_of(text: str) -> list[str]:
    _, errors = load_config(read_documents("c.yaml", text))
    return [str(e) for e in errors]


def test_examples_are_valid() -> None:
    config, errors = load_config(read_documents("x", (ROOT / "examples/config.yaml").read_text()))
    assert errors == []
    assert [p.name for p in config.pools] == ["public", "internal"]
    assert [p.name for p in config.peers] == ["edge"]
    assert config.peers[0].spec.hold_time == 9
    assert config.providers[0].spec.takeover is True


@pytest.mark.parametrize(
    ("addresses", "message"),
    [
        ("[10.0.0.0/24, 10.0.1.0/24, 10.0.0.9-10.0.0.1]", "spec.addresses[2]: '10.0.0.9-10.0.0.1' is reversed"),
        ("[10.0.0.1/24]", "spec.addresses[0]: '10.0.0.1/24' has host bits set"),
        ("[10.0.0.0/33]", "spec.addresses[0]: '10.0.0.0/33' is not a valid CIDR"),
        ("[10.0.0.1]", "spec.addresses[0]: '10.0.0.1' is neither a CIDR (10.0.0.0/24) nor a range"),
        ("[10.0.0.1-fd00::1]", "spec.addresses[0]: '10.0.0.1-fd00::1' mixes IPv4 and IPv6"),
        ("[10.0.0.1-banana]", "spec.addresses[0]: '10.0.0.1-banana' is not a valid address range"),
        ("[]", "spec.addresses: needs at least one item"),
        ("[7]", "spec.addresses[0]: expected string, got int 7"),
    ],
)
def test_bad_addresses(addresses: str, message: str) -> None:
    errors = errors_of(POOL.format(name="prod", addresses=addresses))
    assert len(errors) == 1
    assert errors[0].startswith(f"c.yaml document 1: AddressPool/prod {message}")


def test_overlapping_pools_are_rejected_naming_both() -> None:
    text = "---".join(
        [
            POOL.format(name="a", addresses="[10.0.0.0/24, fd00::/64]"),
            POOL.format(name="b", addresses="[10.0.1.0/24, 10.0.0.128-10.0.0.130]"),
            POOL.format(name="c", addresses='["fd00::ff-fd00::1:0"]'),
        ]
    )
    assert errors_of(text) == [
        "c.yaml document 2: AddressPool/b spec.addresses[1]: '10.0.0.128-10.0.0.130' overlaps AddressPool/a "
        "spec.addresses[0] ('10.0.0.0/24')",
        "c.yaml document 3: AddressPool/c spec.addresses[0]: 'fd00::ff-fd00::1:0' overlaps AddressPool/a "
        "spec.addresses[1] ('fd00::/64')",
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "{myASN: 64512, peerASN: 64500, peerAddress: 10.0.0.1, holdTime: 2}",
            "spec.holdTime: 2 is below the minimum 3",
        ),
        ("{myASN: 0, peerASN: 64500, peerAddress: 10.0.0.1}", "spec.myASN: 0 is below the minimum 1"),
        ("{myASN: 4294967296, peerASN: 1, peerAddress: 10.0.0.1}", "spec.myASN: 4294967296 is above the maximum"),
        ("{myASN: '64512', peerASN: 1, peerAddress: 10.0.0.1}", "spec.myASN: expected int, got str '64512'"),
        ("{myASN: 1, peerASN: 1, peerAddress: 10.0.0.300}", "spec.peerAddress: '10.0.0.300' is not an IP address"),
        (
            "{myASN: 1, peerASN: 1, peerAddress: 10.0.0.1, routerID: 'fd00::1'}",
            "spec.routerID: 'fd00::1' is not an IPv4",
        ),
        (
            "{myASN: 1, peerASN: 1, peerAddress: 10.0.0.1, holdTime: 9, keepaliveTime: 9}",
            "spec: keepaliveTime 9 must be",
        ),
        (
            "{myASN: 1, peerASN: 1, peerAddress: 10.0.0.1, sourceAddress: 'fd00::1'}",
            "spec: sourceAddress and peerAddress",
        ),
        ("{myASN: 1, peerASN: 1, peerAddress: 10.0.0.1, holdtime: 9}", "spec.holdtime: unknown field"),
        ("{myASN: 1, peerASN: 1}", "spec.peerAddress: required field is missing"),
        ("{myASN: 1, peerASN: 1, peerAddress: 10.0.0.1, peerPort: 0}", "spec.peerPort: 0 is below the minimum 1"),
    ],
)
def test_bad_peers(spec: str, message: str) -> None:
    errors = errors_of(PEER.format(spec=spec))
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"c.yaml document 1: BGPPeer/edge {message}")


def test_one_error_per_problem_in_one_resource() -> None:
    text = PEER.format(spec="{myASN: 0, peerASN: 0, peerAddress: nope, holdTime: 1, bogus: 1}")
    assert len(errors_of(text)) == 5


def test_duplicate_names_unknown_kinds_and_versions() -> None:
    text = "---".join(
        [
            POOL.format(name="a", addresses="[10.0.0.0/24]"),
            POOL.format(name="a", addresses="[10.1.0.0/24]"),
            "\napiVersion: dnslb.io/v1alpha1\nkind: Pool\nmetadata: {name: x}\nspec: {}\n",
            "\napiVersion: dnslb.io/v1\nkind: AddressPool\nmetadata: {name: z}\nspec: {}\n",
            "\napiVersion: dnslb.io/v1alpha1\nkind: AddressPool\nmetadata: {name: Bad_Name}\n"
            "spec: {addresses: [10.5.0.0/24]}\n",
        ]
    )
    assert errors_of(text) == [
        "c.yaml document 3: Pool/x kind: unknown kind 'Pool' "
        "(known: AddressPool, BGPPeer, BGPAdvertisement, DNSProvider)",
        "c.yaml document 4: AddressPool/z apiVersion: apiVersion 'dnslb.io/v1' is not served; use dnslb.io/v1alpha1",
        "c.yaml document 5: AddressPool/Bad_Name metadata.name: 'Bad_Name' is not a DNS-1123 subdomain "
        "(lowercase letters, digits, '-' and '.')",
        "c.yaml document 2: AddressPool/a metadata.name: duplicate AddressPool 'a' (first in c.yaml document 1)",
    ]


def test_advertisement_references_and_communities() -> None:
    text = "---".join(
        [
            POOL.format(name="a", addresses="[10.0.0.0/24]"),
            """
apiVersion: dnslb.io/v1alpha1
kind: BGPAdvertisement
metadata: {name: ad}
spec: {addressPools: [a, gone], peers: [edge], localPref: 100, communities: ["65000:1", "large:1:2:3", no-export]}
""",
            """
apiVersion: dnslb.io/v1alpha1
kind: BGPAdvertisement
metadata: {name: evil}
spec: {communities: ["65000:1\\nannounce route 0.0.0.0/0 next-hop self", "70000:1"], aggregationLength: 33}
""",
        ]
    )
    errors = errors_of(text)
    assert errors[0].startswith(
        "c.yaml document 3: BGPAdvertisement/evil spec.communities[0]: "
        "'65000:1\\nannounce route 0.0.0.0/0 next-hop self' is not a community"
    )
    assert "\n" not in errors[0]
    assert errors[1] == "c.yaml document 3: BGPAdvertisement/evil spec.communities[1]: '70000:1' has a part above 65535"
    assert errors[2] == "c.yaml document 3: BGPAdvertisement/evil spec.aggregationLength: 33 is above the maximum 32"
    assert errors[3:] == [
        "c.yaml document 2: BGPAdvertisement/ad spec.addressPools[1]: no AddressPool 'gone'",
        "c.yaml document 2: BGPAdvertisement/ad spec.peers[0]: no BGPPeer 'edge'",
    ]


def test_dns_provider_fields() -> None:
    text = """
apiVersion: dnslb.io/v1alpha1
kind: DNSProvider
metadata: {name: dns}
spec:
  type: Route53
  zones: [example.test., "bad..zone"]
  policy: delete-everything
  allowedNamespaces: [{domain: team.example.test, namespaces: []}]
"""
    assert [e.split(": ", 1)[1] for e in errors_of(text)] == [
        "DNSProvider/dns spec.zones[1]: 'bad..zone' is not a domain name",
        "DNSProvider/dns spec.policy: 'delete-everything' is not one of 'sync', 'upsert-only' or 'create-only'",
        "DNSProvider/dns spec.allowedNamespaces[0].namespaces: needs at least one item",
    ]


def test_lists_and_kubectl_output_are_read() -> None:
    text = """
apiVersion: v1
kind: List
items:
- apiVersion: dnslb.io/v1alpha1
  kind: AddressPool
  metadata:
    {name: a, namespace: dnslb-system, uid: 123, resourceVersion: "9", creationTimestamp: "2026-01-01T00:00:00Z"}
  spec: {addresses: [10.0.0.0/24]}
  status: {conditions: []}
"""
    config, errors = load_config(read_documents("l.yaml", text))
    assert errors == [] and config.pools[0].name == "a"


def test_not_yaml_names_the_line() -> None:
    with pytest.raises(ManifestError, match=r"bad.yaml line 3: not valid YAML"):
        read_documents("bad.yaml", "a: 1\nb: [\n")
