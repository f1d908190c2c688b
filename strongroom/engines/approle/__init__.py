"""The approle auth method: Vault's `auth/approle/` HTTP API.

Paths, relative to the mount, by the module that answers them (the route table: `backend.py`):

    roles.py        role/ (LIST); role/<name> (create/update, read, delete);
                    role/<name>/role-id (read; update sets a custom role_id)
    secret_ids.py   role/<name>/secret-id (update issues one; LIST gives the accessors);
                    role/<name>/custom-secret-id (update registers a caller-chosen secret_id);
                    role/<name>/secret-id/lookup, .../destroy, role/<name>/secret-id-accessor/lookup, .../destroy
    login.py        login (unauthenticated) with `role_id` and, unless the role says `bind_secret_id=false`,
                    `secret_id`

Storage (under the mount's view, all of it behind the barrier; `store.py`):

- `salt`: 32 random bytes made when the mount is first set up: the key of every HMAC below.
- `role/<name>`: the role as JSON, including its role_id (a role_id is an identifier, not a secret).
- `role_id/<HMAC("role_id", role_id)>`: `{"name": <role>}`, the index a login looks role_ids up in.
- `secret_id/<HMAC("role_name", name)>/<HMAC("secret_id", secret_id)>`: one secret ID's properties
  (accessor, uses left, TTL, times, metadata, CIDRs). The secret_id itself is stored nowhere.
- `accessor/<HMAC("accessor", accessor)>`: `{"role_name_hmac", "secret_id_hmac"}`, to find a secret
  ID from its accessor.

A secret ID past its expiry is treated as absent and deleted when next touched (Vault leaves it
to a periodic tidy, up to a minute late). A secret ID with limited uses is decremented on each
login, and deleted (with its accessor) on its last one; CIDR checks come first, so a refused
login does not use one up.
"""

from strongroom.engines.approle.backend import approle_backend

__all__ = ["approle_backend"]
