"""The DC/OS Secrets API (`/secrets/v1`): an adapter onto the core (endpoints.py) and its wire format (wire.py)."""
