"""dnslb: VIPs from address pools, announced over BGP, published as one DNS record set per hostname."""

__version__ = "0.1.0"
