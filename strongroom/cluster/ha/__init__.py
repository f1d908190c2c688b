"""Several nodes over one PostgreSQL: one active node writes, standbys serve reads and forward the rest.

- election.py: the leader lease, and what a node does on becoming active or standby;
- following.py: a standby follows the active node's writes through the change log;
- signing.py, forwarding_key.py, forwarded.py, active_client.py: requests forwarded between nodes, signed with
  a key behind the barrier, so that only unsealed nodes of the same cluster forward or accept them;
- sealing.py: one seal for the whole cluster, whichever node is asked;
- node.py: a node's membership of the cluster, as the core sees it.
"""
