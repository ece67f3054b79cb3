"""The config resources (AddressPool, BGPPeer, BGPAdvertisement, DNSProvider): models, loading, validation."""

from dnslb.core.config.load import Config, is_config, load_config
from dnslb.core.config.resources import (
    AddressPool,
    BGPAdvertisement,
    BGPPeer,
    DNSProvider,
    LabelSelector,
    any_selector_matches,
)

__all__ = [
    "AddressPool",
    "BGPAdvertisement",
    "BGPPeer",
    "Config",
    "DNSProvider",
    "LabelSelector",
    "any_selector_matches",
    "is_config",
    "load_config",
]
