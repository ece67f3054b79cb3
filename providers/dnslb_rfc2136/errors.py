"""What the server answered, or failed to, as the provider's error classes, with messages that say what failed.

RFC 2136 has no throttling, so nothing here is Throttled.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dns.exception
import dns.message
import dns.rcode
import dns.tsig
import dns.xfr

from dnslb.provider import Conflict, ProviderError, Rejected, Transient, Unauthorized

_UNAUTHORIZED = {
    dns.rcode.NOTAUTH: "the server is not authoritative for the zone or does not accept the TSIG key for it",
    dns.rcode.REFUSED: "the server refused it: does it serve the zone, and does the zone's allow-update, "
    "update-policy or allow-transfer grant this key? (BIND also refuses adding an MX whose in-zone target has no "
    "address record)",
}
_TRANSIENT = {
    dns.rcode.SERVFAIL: "the server failed internally",
}
# a prerequisite failed: the zone is not as dnslb read it, and the server changed nothing
_CONFLICT = {
    dns.rcode.YXRRSET: "a record set to create already exists",
    dns.rcode.NXRRSET: "a record set to update, delete or require is not there with exactly the expected values",
    dns.rcode.YXDOMAIN: "a name that must not exist exists",
    dns.rcode.NXDOMAIN: "a name that must exist does not",
}
_REJECTED = {
    dns.rcode.NOTZONE: "a name is outside the zone",
    dns.rcode.FORMERR: "the server could not parse the message",
    dns.rcode.NOTIMP: "the server does not implement this operation",
}
_TSIG_PEER_ERRORS: dict[type[dns.tsig.PeerError], str] = {
    dns.tsig.PeerBadKey: "the server has no TSIG key of this name and algorithm (BADKEY)",
    dns.tsig.PeerBadSignature: "the server says the TSIG signature is wrong (BADSIG: wrong secret or algorithm?)",
    dns.tsig.PeerBadTime: "the server says the TSIG time is off (BADTIME: are the clocks in sync?)",
}


def raise_for_rcode(rcode: dns.rcode.Rcode, what: str, detail: str = "") -> None:
    """Raise the error class for a non-zero rcode. `what` names the request; `detail` is appended to the reason."""
    if rcode == dns.rcode.NOERROR:
        return
    name = dns.rcode.to_text(rcode)
    suffix = f" {detail}" if detail else ""
    if rcode in _UNAUTHORIZED:
        raise Unauthorized(f"{what}: {name}: {_UNAUTHORIZED[rcode]}{suffix}")
    if rcode in _TRANSIENT:
        raise Transient(f"{what}: {name}: {_TRANSIENT[rcode]}{suffix}")
    if rcode in _CONFLICT:
        raise Conflict(f"{what}: {name}: {_CONFLICT[rcode]}{suffix}")
    raise Rejected(f"{what}: {name}: {_REJECTED.get(rcode, 'the server refused the request')}{suffix}")


@contextmanager
def translated(what: str, key_name: str) -> Iterator[None]:
    """Turn what dnspython and the socket raise while talking to the server into provider errors."""
    try:
        yield
    except ProviderError:
        raise
    except dns.xfr.TransferError as failure:
        raise_for_rcode(dns.rcode.Rcode.make(failure.rcode), what)
        raise Transient(f"{what}: {failure}") from None
    except dns.tsig.PeerError as failure:
        reason = _TSIG_PEER_ERRORS.get(type(failure), f"the server rejected the TSIG signature ({failure})")
        raise Unauthorized(f"{what}: {reason}; key {key_name}") from None
    except (dns.tsig.BadSignature, dns.tsig.BadKey, dns.tsig.BadAlgorithm, dns.tsig.BadTime) as failure:
        kind = type(failure).__name__
        raise Unauthorized(f"{what}: the server's answer failed TSIG verification ({kind}); key {key_name}") from None
    except dns.message.UnknownTSIGKey:
        raise Unauthorized(f"{what}: the server signed its answer but no TSIG key is configured") from None
    except dns.exception.Timeout:
        raise Transient(f"{what}: no answer in time") from None
    except dns.exception.TooBig:
        raise Rejected(f"{what}: the message is larger than 65,535 bytes") from None
    except (OSError, EOFError) as failure:
        raise Transient(f"{what}: {_connection_failure(failure)}") from None
    except dns.exception.DNSException as failure:
        # a malformed or unsigned answer: most likely something in between, or a server in trouble
        raise Transient(f"{what}: unusable answer: {failure}") from None


def _connection_failure(failure: OSError | EOFError) -> str:
    if isinstance(failure, EOFError):
        return "the server closed the connection"
    if isinstance(failure, ConnectionRefusedError):
        return "connection refused"
    if isinstance(failure, ConnectionResetError):
        return "connection reset"
    return failure.strerror or str(failure) or type(failure).__name__
