"""The PostgreSQL storage backend: the entries, and with `ha_enabled` the leader lease, the change log,
the nodes and the cluster seal."""
