"""Syncing DNS providers: the loop, one provider's sync, the plugin registry."""
