"""Hostnames from other objects than Services, as external-dns's sources read them: Ingresses (`ingress`), Gateway
API routes (`gateway.py`, through the Gateways of `gateways.py`) and DNSEndpoints (`dnsendpoint`), each into
`SourceRecord`s (`records.py`). Pure: objects as the API returns them in, frozen values and Diagnostics out; no input
makes them raise (`fields.py` reads every field strictly, and a malformed one costs only what holds it)."""

from dnslb.core.sources.dnsendpoint import dnsendpoint_records
from dnslb.core.sources.gateway import PROTOCOLS, RouteKind, intersection, route_records
from dnslb.core.sources.gateways import GatewayView, Listener, gateway_view
from dnslb.core.sources.ingress import ingress_records
from dnslb.core.sources.records import SourceRecord

__all__ = [
    "PROTOCOLS",
    "GatewayView",
    "Listener",
    "RouteKind",
    "SourceRecord",
    "dnsendpoint_records",
    "gateway_view",
    "ingress_records",
    "intersection",
    "route_records",
]
