"""Two readings that must match Go's: `parse_go_duration` (time.ParseDuration, how Kubernetes, MetalLB and
external-dns read durations) and `dnslb.core.manifests`' YAML (sigs.k8s.io/yaml over go-yaml v2, how kubectl reads a
manifest), which every file dnslb reads goes through."""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from dnslb.app import cli, importer
from dnslb.core import manifests
from dnslb.core.grammar import parse_go_duration
from dnslb.core.manifests import ManifestError, dump_documents, go_yaml_scalar, read_documents

# ---- Go durations ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("1m30s", 90.0),
        ("9m0s", 540.0),  # as metav1.Duration prints 9 minutes
        ("2h", 7200.0),
        ("1.5h", 5400.0),
        ("300ms", 0.3),
        ("0", 0.0),  # the one number without a unit
        ("0s", 0.0),
        ("1h2m3.5s", 3723.5),
        (".5s", 0.5),
        ("1.s", 1.0),
        ("1us", 1e-6),
        ("250ns", 2.5e-7),
        ("0001s", 1.0),
        ("1s500ms", 1.5),  # units may repeat and come in any order, as Go's
        ("2562047h", 2562047 * 3600.0),  # about the largest a time.Duration holds
    ],
)
def test_go_durations_read_as_go_reads_them(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("soon", "'soon' is not a duration (like 90s, 1m30s or 1.5h)"),
        ("1x", "'1x' is not a duration: unknown unit 'x' (ns, us, ms, s, m, h)"),
        ("s", "'s' is not a duration"),
        ("", "'' is not a duration"),
        ("90", "'90' is not a duration: a number without a unit"),
        ("00", "'00' is not a duration: a number without a unit"),  # only "0" itself may go without
        ("1.5", "a number without a unit"),
        (".s", "'.s' is not a duration"),
        ("1..5s", "a number without a unit"),
        ("1e3s", "unknown unit 'e'"),
        ("1sec", "unknown unit 'sec'"),
        ("1S", "unknown unit 'S'"),
        ("90s ", "unknown unit 's '"),
        (" 90s", "' 90s' is not a duration"),
        ("-1s", "'-1s' is not a duration: a duration here cannot be negative"),
        ("-0", "cannot be negative"),
        ("+90s", "'+90s' is not a duration: write it without a sign"),
        ("\u0669\u0660s", "'\\u0669\\u0660s' is not a duration"),  # Arabic-Indic digits: int() takes them
        ("\uff19\uff10s", "is not a duration"),  # fullwidth digits
        ("1µs", "'1\\xb5s' is not a duration: write us for microseconds"),  # Go takes µs; dnslb reads ASCII only
        ("1μs", "write us for microseconds"),  # the Greek mu, which Go takes too
        ("2562048h", "'2562048h' is out of range"),
        ("99999999999999999999s", "is out of range"),
        ("2562047h1h", "is out of range"),
        (90, "'90' is not a duration"),
        (None, "'None' is not a duration"),
    ],
)
def test_anything_else_is_refused_in_one_line(text: Any, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_go_duration(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def go_string(nanoseconds: int) -> str:
    """A duration as Go's Duration.String writes it (`1h2m3.5s`, `9m0s`, `300ms`), for durations of 1 s or more."""
    hours, rest = divmod(nanoseconds, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    seconds, fraction = divmod(rest, 10**9)
    text = f"{seconds}" + (f".{fraction:09d}".rstrip("0") if fraction else "") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    return f"{minutes}m{text}" if minutes else text


@given(st.integers(min_value=10**9, max_value=10**9 * 3600 * 24 * 365))
def test_every_duration_go_prints_reads_back(nanoseconds: int) -> None:
    assert parse_go_duration(go_string(nanoseconds)) == pytest.approx(nanoseconds / 1e9, rel=1e-12)


@given(st.text(max_size=12))
def test_any_text_is_a_duration_or_one_line_value_error(text: str) -> None:
    try:
        seconds = parse_go_duration(text)
    except ValueError as exc:
        assert "\n" not in str(exc)
    else:
        assert text.isascii() and seconds >= 0


# ---- YAML as Kubernetes reads it -------------------------------------------------------------------------------

COMMUNITIES = """
apiVersion: dnslb.io/v1alpha1
kind: BGPAdvertisement
metadata: {name: tagged, namespace: dnslb-system}
spec:
  communities: [65000:42, 64512:1]
"""


def test_unquoted_community_kept_as_written() -> None:
    (document,) = read_documents("adv.yaml", COMMUNITIES)
    assert document.body["spec"]["communities"] == ["65000:42", "64512:1"]  # PyYAML alone: 3900042, 3870721
    assert yaml.safe_load(COMMUNITIES)["spec"]["communities"] == [3900042, 3870721]


def test_plan_and_import_read_yaml_with_one_reader(tmp_path: Any) -> None:
    """`dnslb plan -f` (cli.read_manifests) and `dnslb import -f` (importer.read_inputs) read files alike."""
    path = tmp_path / "adv.yaml"
    path.write_text(COMMUNITIES)
    for documents in (cli.read_manifests([str(path)]), importer.read_inputs([str(path)])):
        assert [d.body["spec"]["communities"] for d in documents] == [["65000:42", "64512:1"]]
    assert vars(importer)["read_documents"] is manifests.read_documents  # no loader of its own
    assert not hasattr(importer, "KubernetesLoader")


@pytest.mark.parametrize(
    ("scalar", "value"),
    [
        # YAML 1.1 (PyYAML) and go-yaml v2 differ
        ("65000:42", "65000:42"),  # base 60: dropped by go-yaml
        ("1:20:30.5", "1:20:30.5"),
        ("2024-01-31", "2024-01-31"),  # a timestamp stays a string in interface{}
        ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
        ("=", "="),
        ("y", True),  # go-yaml v2 takes y/n as booleans; PyYAML does not
        ("Y", True),
        ("n", False),
        ("N", False),
        ("0o17", 15),
        ("0O17", 15),
        ("0X1F", 31),
        ("-0b101", -5),
        ("1e3", 1000.0),
        ("1E-2", 0.01),
        ("09", 9.0),  # not octal, not an int: a float by go-yaml's regexp
        ("1__0", 10),  # every underscore dropped
        ("18446744073709551615", 2**64 - 1),  # uint64
        ("18446744073709551616", float(2**64)),  # past it: a float
        ("-9223372036854775809", -float(2**63) - 1),
        ("1e400", "1e400"),  # out of float64 range: strconv fails, the string stays
        # and the same
        ("yes", True),
        ("No", False),
        ("on", True),
        ("OFF", False),
        ("true", True),
        ("False", False),
        ("~", None),
        ("null", None),
        ("NULL", None),
        ("010", 8),  # a leading zero is octal in both
        ("0x1f", 31),
        ("0b101", 5),
        ("1_000", 1000),
        ("-12", -12),
        ("+12", 12),
        ("1.5", 1.5),
        (".5", 0.5),
        ("-.5", -0.5),
        (".inf", math.inf),
        ("-.Inf", -math.inf),
        ("1.2.3", "1.2.3"),
        ("_1", "_1"),
        ("0x", "0x"),
        ("tru", "tru"),
        ("yes please", "yes please"),
        ("10.0.0.1", "10.0.0.1"),
        ("2001:db8::1", "2001:db8::1"),
        ("192.0.2.0/24", "192.0.2.0/24"),
    ],
)
def test_plain_scalars_read_as_kubectl_reads_them(scalar: str, value: Any) -> None:
    assert go_yaml_scalar(scalar) == value and type(go_yaml_scalar(scalar)) is type(value)
    (document,) = read_documents("x.yaml", f"value: {scalar}\n")
    assert document.body["value"] == value and type(document.body["value"]) is type(value)


def test_nan_and_quoted_scalars() -> None:
    (document,) = read_documents("x.yaml", "a: .nan\nb: '65000:42'\nc: \"y\"\nd: |\n  no\ne: !!str 12\n")
    assert math.isnan(document.body["a"])
    assert {k: v for k, v in document.body.items() if k != "a"} == {"b": "65000:42", "c": "y", "d": "no\n", "e": "12"}


def test_keys_become_the_strings_json_has() -> None:
    (document,) = read_documents("x.yaml", "1: one\nyes: bool\nn: no\n65000:42: community\n")
    assert document.body == {"1": "one", "true": "bool", "false": False, "65000:42": "community"}


def test_explicit_tags_and_merge_keys() -> None:
    text = (
        "base: &b {x: 1}\nm:\n  <<: *b\n  z: 2\ni: !!int '0x10'\nf: !!float 1\nb: !!bool y\nt: !!timestamp 2024-01-01\n"
    )
    (document,) = read_documents("x.yaml", text)
    assert document.body == {"base": {"x": 1}, "m": {"x": 1, "z": 2}, "i": 16, "f": 1.0, "b": True, "t": "2024-01-01"}
    assert type(document.body["f"]) is float


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!int abc\n", "x.yaml line 1: not valid YAML: 'abc' is not a whole number (tag !!int)"),
        ("a: !!bool maybe\n", "x.yaml line 1: not valid YAML: 'maybe' is not true or false (tag !!bool)"),
        ("a: !!float x\n", "x.yaml line 1: not valid YAML: 'x' is not a number (tag !!float)"),
        ("? [a]\n: b\n", "x.yaml line 1: not valid YAML: found a list or mapping as a key"),
        ("a: [\n", "x.yaml line 2: not valid YAML: expected the node content"),
    ],
)
def test_bad_yaml_is_one_line(text: str, message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        read_documents("x.yaml", text)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**63), max_value=2**63 - 1)
        | st.text(alphabet="yYnN0123456789:._-+eExXoObB~=<abc /", max_size=8),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(alphabet="abcyn0123456789:", min_size=1, max_size=4), children, max_size=3)
        ),
        max_leaves=8,
    )
)
def test_what_dnslb_writes_reads_back_alike_by_kubectl_and_pyyaml(body: Any) -> None:
    text = dump_documents([{"spec": body}])
    (document,) = read_documents("out.yaml", text)
    assert document.body == {"spec": body}
    assert yaml.safe_load(text) == {"spec": body}
