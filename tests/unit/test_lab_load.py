"""The load generator's client mix and worlds: parsing `--client-mix` and `--url [WORLD=]URL`, and which user gets
which URL, world and client kind."""

from __future__ import annotations

import argparse
import json
from collections import Counter

import pytest

from dnslb_lab import load
from dnslb_lab.report import Sample, parse_sample


def test_the_default_mix_is_half_single_half_fallback() -> None:
    mix = load.client_mix(load.DEFAULT_CLIENT_MIX)

    assert mix.shares == (("single", 0.5), ("fallback", 0.5))
    assert str(mix) == "single=0.5,fallback=0.5"
    assert load.parse_options(["--out", "s"]).client_mix == mix


def test_a_kind_without_a_share_is_left_out() -> None:
    assert load.client_mix("single=0,fallback=1").shares == (("fallback", 1.0),)
    assert load.client_mix(" fallback = 0.25 , single = 0.75 ").shares == (("fallback", 0.25), ("single", 0.75))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected KIND=SHARE"),
        ("single", "expected KIND=SHARE"),
        ("single=0.5,,fallback=0.5", "expected KIND=SHARE"),
        ("=1", "expected KIND=SHARE"),
        ("browser=1", "unknown client kind 'browser' (known: single, fallback)"),
        ("single=0.5,single=0.5", "given twice"),
        ("single=half,fallback=0.5", "not a number: 'half' for single"),
        ("single=-0.5,fallback=1.5", "the share of single must be from 0 to 1"),
        ("single=nan,fallback=0.5", "the share of single must be from 0 to 1"),
        ("single=0.5", "the shares must add up to 1, got 0.5"),
        ("single=0.5,fallback=0.6", "the shares must add up to 1, got 1.1"),
    ],
)
def test_a_bad_mix_is_refused_in_one_line(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as error:
        load.client_mix(text)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_bad_mix_on_the_command_line_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        load.parse_options(["--out", "s", "--client-mix", "single=2"])
    assert exit_info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "argument --client-mix: the share of single must be from 0 to 1, got 2" in last


@pytest.mark.parametrize("shares", [(0.5, 0.5), (0.25, 0.75), (0.3, 0.7), (1 / 3, 2 / 3), (1.0, 0.0)])
def test_every_prefix_of_the_users_has_the_mix_to_within_one_user(shares: tuple[float, float]) -> None:
    mix = load.client_mix(f"single={shares[0]!r},fallback={shares[1]!r}")
    kinds = mix.kinds(60)

    for count in range(1, 61):
        seen = Counter(kinds[:count])
        for kind, share in mix.shares:
            assert abs(seen[kind] - share * count) < 1, (count, kind, seen)
    assert mix.kinds(7) == kinds[:7]  # by index: the same user gets the same kind whatever the crowd's size


def test_an_even_mix_alternates() -> None:
    assert load.client_mix("single=0.5,fallback=0.5").kinds(5) == ("single", "fallback", "single", "fallback", "single")


def test_url_labels_name_the_world() -> None:
    assert load.target("old=http://old.lab.test/") == load.Target("old", "http://old.lab.test/")
    assert load.target("http://web.lab.test/?a=b") == load.Target("web.lab.test", "http://web.lab.test/?a=b")
    assert load.target("https://[::1]:8443/") == load.Target("::1", "https://[::1]:8443/")


@pytest.mark.parametrize(
    ("text", "message"),
    [("old world=http://x/", "not a world name"), ("old=web.lab.test", "not an http"), ("x", "not an http")],
)
def test_a_bad_url_is_refused(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        load.target(text)


def test_users_split_evenly_over_worlds_each_with_the_same_mix() -> None:
    targets = [
        load.Target("old", "http://old.lab.test/"),
        load.Target("dnslb", "http://web.lab.test/"),
        load.Target("dnslb", "http://shop.lab.test/"),
    ]
    plans = load.plan_http_users(targets, load.client_mix("single=0.5,fallback=0.5"), 200)

    assert plans == load.plan_http_users(targets, load.client_mix("single=0.5,fallback=0.5"), 200)  # deterministic
    assert Counter((p.world, p.client) for p in plans) == {
        ("old", "single"): 50,
        ("old", "fallback"): 50,
        ("dnslb", "single"): 50,
        ("dnslb", "fallback"): 50,
    }
    assert [p.world for p in plans[:4]] == ["old", "dnslb", "old", "dnslb"]  # the ramp starts both worlds alike
    dnslb = [p for p in plans if p.world == "dnslb"]
    assert Counter(p.url for p in dnslb) == {"http://web.lab.test/": 50, "http://shop.lab.test/": 50}
    assert Counter((p.url, p.client) for p in dnslb)[("http://web.lab.test/", "single")] == 25


@pytest.mark.parametrize("users", [5, 10, 20, 21])
def test_small_crowds_have_the_same_mix_in_every_world(users: int) -> None:
    targets = [load.Target("old", "http://o/"), load.Target("dnslb", "http://w/"), load.Target("dnslb", "http://s/")]
    plans = load.plan_http_users(targets, load.client_mix("single=0.5,fallback=0.5"), users)
    mixes = {world: Counter(p.client for p in plans if p.world == world) for world in ("old", "dnslb")}

    assert abs(mixes["old"]["single"] - mixes["dnslb"]["single"]) <= 1
    assert abs(mixes["old"]["fallback"] - mixes["dnslb"]["fallback"]) <= 1


def test_without_labels_every_user_is_in_the_one_world_of_the_default_url() -> None:
    options = load.parse_options(["--out", "s", "--users", "3"])
    plans = load.plan_http_users(options.targets, options.client_mix, options.users)

    assert [(p.world, p.client, p.url) for p in plans] == [
        ("web.lab.test", "single", load.DEFAULT_URL),
        ("web.lab.test", "fallback", load.DEFAULT_URL),
        ("web.lab.test", "single", load.DEFAULT_URL),
    ]


def test_sample_lines_carry_client_and_world_and_read_back() -> None:
    http = Sample(1.5, "http", False, 2.0, None, "ConnectTimeout", client="single", world="old")
    db = Sample(1.5, "db", True, 0.001, "node1", None)

    assert json.loads(load.sample_line(http))["client"] == "single"
    assert json.loads(load.sample_line(http))["world"] == "old"
    assert json.loads(load.sample_line(db))["client"] is None
    assert parse_sample(json.loads(load.sample_line(http))) == http
    assert parse_sample(json.loads(load.sample_line(db))) == db
