"""A real BIND 9 for tests and the lab: `named -g` as a child process in a temp dir, with dynamic zones and a TSIG key.

    key = TsigKey.generate("dnslb-test")
    with BindServer([ZoneSpec("example.test", records=("nodes 300 IN A 10.0.0.1",))], key) as bind:
        ...  # bind.address, bind.port: UDP and TCP; updates and AXFR need `key`

With `netns=` it runs inside that network namespace (the lab's DNS server), listening on `address` there.

Every zone allows AXFR to the key, and dynamic updates to the key (or what its `update_policy` grants). BIND keeps
updates in the zone's `.jnl` journal, not in the zone file, so read a zone back by AXFR, or a record set by `query`.
`replace` writes a record set as another tool would (a signed update without prerequisites), in zone-file text.
`named` runs as the calling user (`-u` fails on a root-owned temp dir), with no control channel and no outbound
queries.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.update

from dnslb.adapters.child import Child, ChildStartError
from dnslb_testkit.netns import IP, Namespace, entered
from dnslb_testkit.ports import free_port
from dnslb_testkit.scratch import stop_and_remove

NAMED = "/usr/sbin/named"

_START_TIMEOUT = 20.0
_PROBE_TIMEOUT = 0.5
_QUERY_TIMEOUT = 5.0
_PORT_ATTEMPTS = 3

# BIND's algorithm names, with the hash that sizes a generated secret
_ALGORITHMS = {
    "hmac-md5": hashlib.md5,
    "hmac-sha1": hashlib.sha1,
    "hmac-sha224": hashlib.sha224,
    "hmac-sha256": hashlib.sha256,
    "hmac-sha384": hashlib.sha384,
    "hmac-sha512": hashlib.sha512,
}
# names go into named.conf between quotes: keep them to what DNS names and key names need
_CONF_SAFE = re.compile(r"^[A-Za-z0-9_.*-]+$")


class BindStartError(ChildStartError):
    """named did not start, or did not answer for its zones in time; the message ends with its log."""


@dataclass(frozen=True)
class TsigKey:
    name: str
    secret: str  # base64, as in named.conf
    algorithm: str = "hmac-sha256"

    def __post_init__(self) -> None:
        if self.algorithm not in _ALGORITHMS:
            raise ValueError(f"unknown TSIG algorithm {self.algorithm!r}; use one of {', '.join(_ALGORITHMS)}")
        if not _CONF_SAFE.match(self.name):
            raise ValueError(f"TSIG key name {self.name!r} has characters named.conf would need quoted")
        base64.b64decode(self.secret, validate=True)

    def key(self) -> dns.tsig.Key:
        """The key as dnspython signs with it."""
        algorithm = dns.tsig.HMAC_MD5 if self.algorithm == "hmac-md5" else dns.name.from_text(self.algorithm)
        return dns.tsig.Key(self.name, base64.b64decode(self.secret), algorithm)

    @classmethod
    def generate(cls, name: str = "dnslb-test", algorithm: str = "hmac-sha256") -> TsigKey:
        """A key with a random secret as long as the algorithm's digest."""
        if algorithm not in _ALGORITHMS:
            raise ValueError(f"unknown TSIG algorithm {algorithm!r}; use one of {', '.join(_ALGORITHMS)}")
        size = _ALGORITHMS[algorithm]().digest_size
        return cls(name, base64.b64encode(os.urandom(size)).decode(), algorithm)


@dataclass(frozen=True)
class ZoneSpec:
    """A primary zone. `records` are zone-file lines relative to the zone (`nodes 300 IN A 10.0.0.1`), loaded at start
    after the zone's SOA and NS; `update_policy` is the body of BIND's `update-policy { ... };` (None: the key may
    update anything in the zone)."""

    name: str
    records: tuple[str, ...] = ()
    update_policy: str | None = None

    def __post_init__(self) -> None:
        if not _CONF_SAFE.match(self.name.rstrip(".")):
            raise ValueError(f"zone name {self.name!r} has characters named.conf would need quoted")

    @property
    def origin(self) -> str:
        return self.name.rstrip(".").lower() + "."


class BindServer:
    """One `named` serving `zones` on `address` (IPv4) and `port` (None: a free one), UDP and TCP; a context manager
    that starts it, waits until every zone answers SOA, and stops it by PID."""

    def __init__(
        self,
        zones: Sequence[ZoneSpec],
        tsig: TsigKey,
        *,
        address: str = "127.0.0.1",
        port: int | None = None,
        max_records_per_type: int = 0,
        netns: Namespace | None = None,
        named: str = NAMED,
        start_timeout: float = _START_TIMEOUT,
    ) -> None:
        """`max_records_per_type`: BIND's limit on one record set's size (its default since 9.18.28 is 100, which
        refuses a record listing every node of a larger cluster); 0, the default here, is no limit."""
        if not zones:
            raise ValueError("BindServer needs at least one zone")
        self.zones = tuple(zones)
        self.tsig = tsig
        self.address = address
        self._requested_port = port
        self._named = named
        self._max_records_per_type = max_records_per_type
        self.netns = netns
        self._start_timeout = start_timeout
        self._port = 0
        self._directory: Path | None = None
        self._child: Child | None = None

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("BindServer is not started")
        return self._port

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child else None

    @property
    def directory(self) -> Path:
        """The temp dir holding named.conf, zone files, journals and named.log."""
        if self._directory is None:
            raise RuntimeError("BindServer is not started")
        return self._directory

    def log(self) -> str:
        """What named has written to stderr so far."""
        path = self.directory / "named.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def replace(self, zone: str, name: str, type_: str, ttl: int, texts: Sequence[str]) -> None:
        """Make `texts` (zone-file rdata, names absolute) the record set `name` `type_`, unconditionally."""
        update = dns.update.UpdateMessage(zone, keyring=self.tsig.key())
        update.replace(dns.name.from_text(name), ttl, type_, *texts)
        with self._inside():
            response = dns.query.tcp(update, self.address, timeout=_QUERY_TIMEOUT, port=self.port)
        if response.rcode() != dns.rcode.NOERROR:
            raise RuntimeError(f"update of {name} {type_}: {dns.rcode.to_text(response.rcode())}")

    def query(self, name: str, type_: str) -> list[str]:
        """The record set `name` `type_` as the server answers it, in zone-file text ([] when there is none)."""
        owner, rdtype = dns.name.from_text(name), dns.rdatatype.from_text(type_)
        with self._inside():
            response = dns.query.tcp(
                dns.message.make_query(owner, rdtype), self.address, timeout=_QUERY_TIMEOUT, port=self.port
            )
        answer = response.get_rrset(response.answer, owner, dns.rdataclass.IN, rdtype)
        return [rdata.to_text() for rdata in answer] if answer is not None else []

    def start(self) -> BindServer:
        if self._child is not None:
            raise RuntimeError("BindServer is already started")
        prefix = f"{self.netns.name}-" if self.netns is not None else "dnslb-"  # in a lab: found again by its tag
        self._directory = Path(tempfile.mkdtemp(prefix=f"{prefix}bind-"))
        try:
            self._start_on_a_port()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        stop_and_remove(self._child, self._directory)
        self._child, self._directory = None, None
        self._port = 0

    def __enter__(self) -> BindServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _start_on_a_port(self) -> None:
        # A port found free may be taken before named binds it: when we picked the port, pick another and retry.
        attempts = 1 if self._requested_port else _PORT_ATTEMPTS
        for attempt in range(attempts):
            with self._inside():
                self._port = self._requested_port or free_port(self.address, udp=True)
            self._write_config()
            self._child = child = self._spawn()
            try:
                self._wait_until_ready(child)
                return
            except BindStartError:
                in_use = "unable to listen on any configured interfaces" in self.log()
                self._child = None
                child.stop()
                if not in_use or attempt == attempts - 1:
                    raise

    def _write_config(self) -> None:
        directory = self.directory
        for index, zone in enumerate(self.zones):
            (directory / f"zone{index}.db").write_text(_zone_file(zone))
            (directory / f"zone{index}.db.jnl").unlink(missing_ok=True)
        (directory / "named.log").unlink(missing_ok=True)  # an earlier attempt's log would mislead
        (directory / "named.conf").write_text(self._named_conf())

    def _named_conf(self) -> str:
        directory, tsig = self.directory, self.tsig
        # dnssec-validation no: otherwise named fetches the root trust anchor from the internet at start
        lines = [
            "options {",
            f'  directory "{directory}";',
            f'  pid-file "{directory}/named.pid";',
            f'  session-keyfile "{directory}/session.key";',
            f'  managed-keys-directory "{directory}";',
            f"  listen-on port {self.port} {{ {self.address}; }};",
            "  listen-on-v6 { none; };",
            "  recursion no;",
            "  dnssec-validation no;",
            "  notify no;",
            f"  max-records-per-type {self._max_records_per_type};",
            "};",
            "controls { };",
            f'key "{tsig.name}" {{ algorithm {tsig.algorithm}; secret "{tsig.secret}"; }};',
        ]
        for index, zone in enumerate(self.zones):
            if zone.update_policy is None:
                updates = f'allow-update {{ key "{tsig.name}"; }};'
            else:
                updates = f"update-policy {{ {zone.update_policy} }};"
            lines += [
                f'zone "{zone.origin}" {{',
                "  type primary;",
                f'  file "{directory}/zone{index}.db";',
                f"  {updates}",
                f'  allow-transfer {{ key "{tsig.name}"; }};',
                "};",
            ]
        return "\n".join(lines) + "\n"

    def _inside(self) -> contextlib.AbstractContextManager[None]:
        return entered(self.netns) if self.netns is not None else contextlib.nullcontext()

    def _spawn(self) -> Child:
        directory = self.directory
        argv = [self._named, "-g", "-4", "-c", str(directory / "named.conf")]
        if self.netns is not None:
            argv = [IP, "netns", "exec", self.netns.name, *argv]  # it execs named: the PID stays named's
        return Child.start(
            argv, name="named", log=directory / "named.log", cwd=directory, new_session=self.netns is not None
        )

    def _wait_until_ready(self, named: Child) -> None:
        names = ", ".join(zone.origin for zone in self.zones)
        what = f"answer SOA for {names} on {self.address}:{self.port}"
        named.wait_ready(lambda: self._every_zone_answers(named), self._start_timeout, what, error=BindStartError)

    def _every_zone_answers(self, named: Child) -> bool:
        if "not loaded due to errors" in named.read_log():
            raise BindStartError(f"named could not load a zone\n{named.log_tail()}")
        with self._inside():
            return all(self._answers_soa(zone) for zone in self.zones)

    def _answers_soa(self, zone: ZoneSpec) -> bool:
        query = dns.message.make_query(zone.origin, dns.rdatatype.SOA)
        try:
            # TCP first: it fails at once while named is not listening yet, where UDP would wait out its timeout
            over_tcp = dns.query.tcp(query, self.address, timeout=_PROBE_TIMEOUT, port=self.port)
            over_udp = dns.query.udp(query, self.address, timeout=_PROBE_TIMEOUT, port=self.port)
        except (OSError, EOFError, dns.exception.DNSException):
            return False
        return all(r.rcode() == dns.rcode.NOERROR and r.answer for r in (over_udp, over_tcp))


def _zone_file(zone: ZoneSpec) -> str:
    # The name server is out of zone, so BIND's integrity check needs no glue and AXFR shows only the caller's records.
    header = [
        f"$ORIGIN {zone.origin}",
        "$TTL 300",
        "@ IN SOA localhost. hostmaster.localhost. 1 3600 600 86400 60",
        "@ IN NS localhost.",
    ]
    return "\n".join([*header, *zone.records]) + "\n"
