"""ExaBGP as the speaker's BGP implementation: config, supervised child, relay."""
