"""Response wrapping: a response is stored behind a single-use token instead of being returned.

The wrapped response lives at `sys/wrapping/<HMAC(token)>`, encrypted by the barrier like
everything else; the token that opens it has the `response-wrapping` policy and one use.
"""

from __future__ import annotations

import json
import time
from typing import Any

from strongroom.barrier import Barrier
from strongroom.core.tokens.entry import TokenEntry
from strongroom.core.tokens.store import TokenStore
from strongroom.logical.errors import BadRequest
from strongroom.logical.go import rfc3339_micro

WRAPPING_PREFIX = "sys/wrapping/"
WRAPPING_POLICY = "response-wrapping"
MAX_WRAP_TTL = 31 * 24 * 3600
INVALID_TOKEN = "wrapping token is not valid or does not exist"


class ResponseWrapper:
    def __init__(self, barrier: Barrier, tokens: TokenStore) -> None:
        self._barrier = barrier
        self._tokens = tokens

    async def wrap(self, document: dict[str, Any], ttl: int, creation_path: str) -> dict[str, Any]:
        """Store `document` behind a new wrapping token and answer Vault's `wrap_info`."""
        if ttl <= 0:
            raise BadRequest("wrapping TTL must be positive")
        if ttl > MAX_WRAP_TTL:
            raise BadRequest(f"wrapping TTL cannot exceed {MAX_WRAP_TTL} seconds")
        issued = await self._tokens.create(
            policies=[WRAPPING_POLICY],
            path=creation_path,
            display_name="response-wrapping",
            ttl=ttl,
            num_uses=1,
            renewable=False,
        )
        created = time.time()
        record = {"response": document, "creation_path": creation_path, "creation_time": created, "ttl": ttl}
        await self._barrier.put(WRAPPING_PREFIX + issued.entry.id_hash, json.dumps(record).encode())
        return {
            "token": issued.token,
            "accessor": issued.accessor,
            "ttl": ttl,
            "creation_time": rfc3339_micro(created),
            "creation_path": creation_path,
            "wrapped_accessor": str(document.get("auth", {}).get("accessor", "")) if document.get("auth") else "",
        }

    async def forget(self, token_hash: str) -> None:
        await self._barrier.delete(WRAPPING_PREFIX + token_hash)

    async def _record(self, token_hash: str) -> dict[str, Any] | None:
        raw = await self._barrier.get(WRAPPING_PREFIX + token_hash)
        return None if raw is None else json.loads(raw)

    async def open_by_token(self, token: str) -> tuple[TokenEntry, dict[str, Any]]:
        """The live wrapping token and its record, for a token passed in a request body."""
        entry = await self._tokens.lookup(token)
        if entry is None or entry.policies != [WRAPPING_POLICY]:
            await self._barrier.delete(WRAPPING_PREFIX + self._tokens.hash(token))
            raise BadRequest(INVALID_TOKEN)
        record = await self._record(entry.id_hash)
        if record is None:
            raise BadRequest(INVALID_TOKEN)
        return entry, record

    async def unwrap(self, entry: TokenEntry) -> dict[str, Any]:
        """Hand out the wrapped response once: the record and the token are gone afterwards."""
        record = await self._record(entry.id_hash)
        if record is None or entry.policies != [WRAPPING_POLICY]:
            raise BadRequest(INVALID_TOKEN)
        await self._barrier.delete(WRAPPING_PREFIX + entry.id_hash)
        await self._tokens.revoke_tree(entry)
        response: dict[str, Any] = record["response"]
        return response

    async def lookup(self, token: str) -> dict[str, Any]:
        _, record = await self.open_by_token(token)
        return {
            "creation_path": record["creation_path"],
            "creation_time": rfc3339_micro(record["creation_time"]),
            "creation_ttl": record["ttl"],
        }

    async def rewrap(self, token: str) -> dict[str, Any]:
        entry, record = await self.open_by_token(token)
        response = await self.unwrap(entry)
        return await self.wrap(response, record["ttl"], record["creation_path"])
