"""ACL policies by name, stored behind the barrier; `root` and `default` are built in."""

from __future__ import annotations

from collections.abc import Iterable

from strongroom.barrier import Barrier
from strongroom.core.policy import DEFAULT_POLICY_TEXT, ROOT_POLICY, Policy, parse_policy

POLICY_PREFIX = "sys/policy/"
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
    def __init__(self, barrier: Barrier) -> None:
        self._barrier = barrier
        self._cache: dict[str, Policy] = {}

    def clear(self) -> None:
        self._cache.clear()

    async def get(self, name: str) -> Policy | None:
        if name == "root":
            return ROOT_POLICY
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        raw = None if name == "response-wrapping" else await self._barrier.get(POLICY_PREFIX + name)
        if name == "response-wrapping":
            policy = parse_policy(name, RESPONSE_WRAPPING_POLICY_TEXT)
        elif raw is None:
            if name != "default":
                return None
            policy = parse_policy("default", DEFAULT_POLICY_TEXT)
        else:
            policy = parse_policy(name, raw.decode())
        self._cache[name] = policy
        return policy

    async def load_many(self, names: Iterable[str]) -> list[Policy]:
        """The policies that exist among `names`; a token naming a deleted policy simply loses it."""
        found = [await self.get(name) for name in names]
        return [policy for policy in found if policy is not None]

    async def put(self, policy: Policy) -> None:
        await self._barrier.put(POLICY_PREFIX + policy.name, policy.text.encode())
        self._cache[policy.name] = policy

    async def delete(self, name: str) -> None:
        await self._barrier.delete(POLICY_PREFIX + name)
        self._cache.pop(name, None)

    async def names(self) -> list[str]:
        stored = [name for name in await self._barrier.list(POLICY_PREFIX) if not name.endswith("/")]
        return sorted({"default", "root", *stored})
