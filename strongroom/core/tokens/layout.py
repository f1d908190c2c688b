"""Where the token store keeps its entries (every one goes through the barrier, so it is also encrypted at rest).

- `sys/token/salt`: the random salt of the HMACs below, made on the first unseal;
- `sys/token/id/<HMAC(salt, token)>`: the token's entry (JSON). Neither the token nor its accessor is
  in it: the accessor is kept encrypted under a key derived from the token itself (`sealed_accessor`),
  so a lookup that presents the token can show it, while the stored entry alone (even decrypted by
  the barrier) reveals neither;
- `sys/token/accessor/<HMAC(salt, accessor)>`: the accessor index, whose value is the token's hash; a
  caller holding an accessor finds the entry through it (lookup-, renew-, revoke-accessor);
- `sys/token/parent/<parent hash>/<child hash>`: the children index (empty values), walked depth
  first when a parent is revoked;
- `sys/token/roles/<name>`: token roles (`auth/token/roles/<name>`).
"""

from __future__ import annotations

SALT_PATH = "sys/token/salt"
ID_PREFIX = "sys/token/id/"
ACCESSOR_PREFIX = "sys/token/accessor/"
PARENT_PREFIX = "sys/token/parent/"
ROLE_PREFIX = "sys/token/roles/"


def child_key(parent_hash: str, child_hash: str) -> str:
    return f"{PARENT_PREFIX}{parent_hash}/{child_hash}"
