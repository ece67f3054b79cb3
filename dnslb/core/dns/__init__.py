"""DNS: desired record sets from Services, ownership, plan and batching (pure), and the sync loop."""
