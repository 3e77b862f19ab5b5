"""Many machines share the rooms through Redis: leases with fencing tokens, failover from committed snapshots,
exactly-once export into a Redis stream, and one sign budget per key across the fleet."""
