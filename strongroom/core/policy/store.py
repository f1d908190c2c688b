"""ACL policies by name, stored behind the barrier; `root` and `default` are built in.

Parsed policies are cached by name, and the ACL of each set of policy names (bounded, first in first
out), since every request needs the ACL of its token's policies. Any change of a policy, by this
process or (through `invalidate_key`) another, drops every cached ACL; a fill from a read that a
change overtook is dropped (a generation counter tells).

A policy's text is parsed on a worker thread (`parse`): pyhcl reads about half a megabyte a second, so a
large policy would hold the event loop, and with it every request and a seal, for a second or more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from strongroom.barrier import Barrier
from strongroom.core.policy.acl import ACL
from strongroom.core.policy.language import DEFAULT_POLICY_TEXT, ROOT_POLICY, Policy, parse_policy

POLICY_PREFIX = "sys/policy/"
#: the largest policy text a write accepts. Vault has no cap of its own, but its integrated storage keeps no
#: entry over 1 MiB (raft's max_entry_size), so no policy that works on Vault is larger.
MAX_POLICY_BYTES = 1024 * 1024
#: ACLs kept in memory, one per distinct set of policy names
ACL_CACHE_SIZE = 1_000
#: what a wrapping token may do: open its wrapped response, once
RESPONSE_WRAPPING_POLICY_TEXT = """
path "sys/wrapping/unwrap" {
  capabilities = ["update"]
}
path "sys/wrapping/lookup" {
  capabilities = ["update", "read"]
}
"""


class PolicyStore:
    def __init__(self, barrier: Barrier, *, acl_cache_size: int = ACL_CACHE_SIZE) -> None:
        self._barrier = barrier
        self.acl_cache_size = acl_cache_size
        self._cache: dict[str, Policy] = {}
        self._acls: dict[tuple[str, ...], ACL] = {}
        #: moves on every change of a policy: a fill from a read it overtook is dropped
        self._generation = 0

    def invalidate_all(self) -> None:
        self._cache.clear()
        self._acls.clear()
        self._generation += 1

    def invalidate_key(self, key: str) -> None:
        """Forget what is cached of the storage entry `key` (`sys/policy/<name>`), which another process wrote."""
        if key.startswith(POLICY_PREFIX):
            self._forget(key[len(POLICY_PREFIX) :])

    def _forget(self, name: str) -> None:
        self._cache.pop(name, None)
        self._acls.clear()
        self._generation += 1

    async def get(self, name: str) -> Policy | None:
        if name == "root":
            return ROOT_POLICY
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        generation = self._generation
        raw = None if name == "response-wrapping" else await self._barrier.get(POLICY_PREFIX + name)
        if name == "response-wrapping":
            policy = parse_policy(name, RESPONSE_WRAPPING_POLICY_TEXT)
        elif raw is None:
            if name != "default":
                return None
            policy = parse_policy("default", DEFAULT_POLICY_TEXT)
        else:
            policy = await self.parse(name, raw.decode())
        if generation == self._generation:
            self._cache[name] = policy
        return policy

    async def parse(self, name: str, text: str) -> Policy:
        """`parse_policy` on a worker thread; raises PolicySyntaxError."""
        return await asyncio.to_thread(parse_policy, name, text)

    async def load_many(self, names: Iterable[str]) -> list[Policy]:
        """The policies that exist among `names`; a token naming a deleted policy simply loses it."""
        found = [await self.get(name) for name in names]
        return [policy for policy in found if policy is not None]

    async def acl_for(self, names: Sequence[str]) -> ACL:
        """The ACL of the policies named (those that exist), cached by names: shared, never to be changed."""
        key = tuple(names)
        acl = self._acls.get(key)
        if acl is None:
            generation = self._generation
            acl = ACL(await self.load_many(key))
            if generation == self._generation and self.acl_cache_size > 0:
                while len(self._acls) >= self.acl_cache_size:
                    del self._acls[next(iter(self._acls))]
                self._acls[key] = acl
        return acl

    async def put(self, policy: Policy) -> None:
        self._forget(policy.name)
        try:
            await self._barrier.put(POLICY_PREFIX + policy.name, policy.text.encode())
        finally:
            self._forget(policy.name)  # read again on first use: a fill racing this write is dropped

    async def delete(self, name: str) -> None:
        self._forget(name)
        try:
            await self._barrier.delete(POLICY_PREFIX + name)
        finally:
            self._forget(name)

    async def names(self) -> list[str]:
        stored = [name for name in await self._barrier.list(POLICY_PREFIX) if not name.endswith("/")]
        return sorted({"default", "root", *stored})
