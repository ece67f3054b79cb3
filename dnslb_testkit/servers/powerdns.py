"""A real PowerDNS authoritative server for tests: sqlite backend, HTTP API on, all on 127.0.0.1.

    with PowerDNSServer.start() as pdns:
        pdns.create_zone("example.test")
        provider = dnslb_powerdns.create(pdns.provider_settings(), pdns.provider_secret())

The server runs as a child process in a temporary directory (config, database, control socket, log) and is stopped
by its PID when the context ends. Starting fails loudly, with the server's log, when pdns_server cannot run.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import httpx

from dnslb.adapters.child import Child, ChildStartError
from dnslb_testkit.ports import free_port
from dnslb_testkit.scratch import stop_and_remove

PDNS_SERVER = "/usr/sbin/pdns_server"
SQLITE_SCHEMA = Path("/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql")
SERVER_ID = "localhost"
START_ATTEMPTS = 3  # a free port found by binding can be taken by another process before pdns binds it
START_TIMEOUT = 20.0
WEBSERVER_BIND_FAILED = "Listening on HTTP socket failed"


class PowerDNSStartError(ChildStartError):
    """pdns_server did not come up; the message carries its log."""


class PowerDNSServer:
    """One running pdns_server child process and what a client needs to reach it."""

    def __init__(self, workdir: Path, child: Child, api_port: int, dns_port: int, api_key: str) -> None:
        self.workdir = workdir
        self.child = child
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.dns_port = dns_port
        self.api_key = api_key
        self.server_id = SERVER_ID

    @classmethod
    def start(cls) -> PowerDNSServer:
        failures: list[str] = []
        for _ in range(START_ATTEMPTS):
            workdir = Path(tempfile.mkdtemp(prefix="dnslb-pdns-"))
            try:
                return cls._start_in(workdir)
            except BaseException as error:
                shutil.rmtree(workdir, ignore_errors=True)
                if not isinstance(error, PowerDNSStartError):
                    raise
                failures.append(str(error))
                if "Address already in use" not in str(error):
                    break
        raise PowerDNSStartError("\n---\n".join(failures))

    @classmethod
    def _start_in(cls, workdir: Path) -> PowerDNSServer:
        if not Path(PDNS_SERVER).exists():
            raise PowerDNSStartError(f"{PDNS_SERVER} is missing (Debian packages pdns-server pdns-backend-sqlite3)")
        api_port, dns_port = free_port(), free_port(udp=True)
        api_key = secrets.token_hex(16)
        database = workdir / "pdns.sqlite3"
        _create_database(database)
        (workdir / "sockets").mkdir()
        (workdir / "pdns.conf").write_text(_config(database, workdir / "sockets", api_port, dns_port, api_key))
        child = Child.start([PDNS_SERVER, f"--config-dir={workdir}"], log=workdir / "pdns.log", cwd=workdir)
        server = cls(workdir, child, api_port, dns_port, api_key)
        try:
            with httpx.Client(headers={"X-API-Key": api_key}, timeout=1.0, trust_env=False) as api:
                child.wait_ready(
                    lambda: server._api_answers(api), START_TIMEOUT, "answer on its API", error=PowerDNSStartError
                )
        except BaseException:
            server.stop(remove_workdir=False)
            raise
        return server

    def __enter__(self) -> PowerDNSServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self, remove_workdir: bool = True) -> None:
        """Stop the server by its PID: SIGTERM, then SIGKILL if it lingers."""
        stop_and_remove(self.child, self.workdir if remove_workdir else None)

    def log(self) -> str:
        return self.child.read_log()

    def client(self, api_key: str | None = None) -> httpx.Client:
        """An API client for test setup (the provider under test makes its own)."""
        return httpx.Client(
            base_url=f"{self.api_url}/api/v1/servers/{self.server_id}",
            headers={"X-API-Key": self.api_key if api_key is None else api_key},
            timeout=10.0,
            trust_env=False,  # never through a proxy from the environment: the server is on 127.0.0.1
        )

    def provider_settings(self) -> dict[str, str]:
        return {"url": self.api_url, "serverID": self.server_id}

    def provider_secret(self) -> dict[str, str]:
        return {"apiKey": self.api_key}

    def create_zone(self, name: str) -> None:
        """Create an empty native zone `name` (SOA and one NS), replacing any zone of that name."""
        fqdn = name.rstrip(".") + "."
        with self.client() as api:
            gone = api.delete(f"/zones/{fqdn}")
            if gone.status_code != 404:
                gone.raise_for_status()
            created = api.post("/zones", json={"name": fqdn, "kind": "Native", "nameservers": [f"ns1.{fqdn}"]})
            created.raise_for_status()

    def replace(self, zone: str, name: str, type_: str, ttl: int, contents: Sequence[str]) -> None:
        """Make `contents` (PowerDNS content, as its API takes it) the record set `name` `type_`, unconditionally."""
        rrset = {
            "name": _fqdn(name),
            "type": type_,
            "ttl": ttl,
            "changetype": "REPLACE",
            "records": [{"content": content, "disabled": False} for content in contents],
        }
        with self.client() as api:
            api.patch(f"/zones/{_fqdn(zone)}", json={"rrsets": [rrset]}).raise_for_status()

    def contents(self, zone: str, name: str, type_: str) -> list[str]:
        """The record set's contents as the API returns them, disabled records included ([] when there is none).
        Read from the whole zone: a read filtered by rrset_name leaves disabled records out."""
        with self.client() as api:
            answer = api.get(f"/zones/{_fqdn(zone)}")
            answer.raise_for_status()
        return [
            str(record["content"])
            for rrset in answer.json().get("rrsets") or []
            if rrset["name"] == _fqdn(name) and rrset["type"] == type_
            for record in rrset["records"]
        ]

    def delete_zone(self, name: str) -> None:
        with self.client() as api:
            api.delete(f"/zones/{name.rstrip('.')}.").raise_for_status()

    def _api_answers(self, api: httpx.Client) -> bool:
        if WEBSERVER_BIND_FAILED in self.log():  # pdns keeps serving DNS without its API
            raise PowerDNSStartError(f"pdns_server's webserver did not start:\n{self.child.log_tail()}")
        with contextlib.suppress(httpx.TransportError):
            return api.get(f"{self.api_url}/api/v1/servers/{self.server_id}").status_code == 200
        return False


def _fqdn(name: str) -> str:
    return name.rstrip(".") + "."


def _config(database: Path, socket_dir: Path, api_port: int, dns_port: int, api_key: str) -> str:
    settings = {
        "launch": "gsqlite3",
        "gsqlite3-database": str(database),
        "api": "yes",
        "api-key": api_key,
        "webserver": "yes",
        "webserver-address": "127.0.0.1",
        "webserver-port": str(api_port),
        "webserver-allow-from": "127.0.0.1",
        "local-address": "127.0.0.1",
        "local-port": str(dns_port),
        "socket-dir": str(socket_dir),
        "daemon": "no",
        "guardian": "no",
        "disable-syslog": "yes",
        "security-poll-suffix": "",  # no security-status queries to the internet
        "distributor-threads": "1",
        "receiver-threads": "1",
        "loglevel": "4",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def _create_database(path: Path) -> None:
    if not SQLITE_SCHEMA.exists():
        raise PowerDNSStartError(f"{SQLITE_SCHEMA} is missing (Debian package pdns-backend-sqlite3)")
    connection = sqlite3.connect(path)
    try:
        connection.executescript(SQLITE_SCHEMA.read_text())
        connection.commit()
    finally:
        connection.close()
