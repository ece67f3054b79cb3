"""DNS, pure: desired record sets from Services, ownership records, the changes for a zone, batching."""
