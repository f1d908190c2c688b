"""An approle mount's storage (its layout: the package docstring), the salt of its HMACs, and the lock under
which secret IDs change."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
from collections.abc import Callable

from strongroom.engines.approle.entries import Role, SecretIdEntry
from strongroom.logical.json_entries import decode, encode
from strongroom.logical.mount import MountContext
from strongroom.storage.base import Delete, Put

SALT_PATH = "salt"
ROLE_PREFIX = "role/"
ROLE_ID_PREFIX = "role_id/"
SECRET_ID_PREFIX = "secret_id/"
ACCESSOR_PREFIX = "accessor/"

Clock = Callable[[], float]


class AppRoleStore:
    def __init__(self, context: MountContext, salt: bytes, clock: Clock) -> None:
        self.context = context
        self.clock = clock
        self._storage = context.storage
        self._salt = salt
        #: logins that use a secret ID up, and destroys, read-modify-write its entry: one at a time
        self.secret_lock = asyncio.Lock()

    @classmethod
    async def open(cls, context: MountContext, clock: Clock) -> AppRoleStore:
        """The mount's store, with its salt (made when the mount is first set up)."""
        salt = await context.storage.get(SALT_PATH)
        if salt is None:
            salt = os.urandom(32)
            await context.storage.put(SALT_PATH, salt)
        return cls(context, salt, clock)

    def mac(self, label: str, value: str) -> str:
        message = label.encode() + b"\x00" + value.encode("utf-8", "surrogatepass")
        return hmac.new(self._salt, message, hashlib.sha256).hexdigest()

    def mount_max_ttl(self) -> int:
        return self.context.mount.config.max_lease_ttl or self.context.max_lease_ttl

    def derive_secret_id_ttl(self, ttl: int) -> int:
        """Vault's `deriveSecretIDTTL`: no more than the mount's maximum lease TTL."""
        maximum = self.mount_max_ttl()
        return maximum if ttl < 0 or (maximum and ttl > maximum) else ttl

    # -- roles --------------------------------------------------------------------------------

    async def role_names(self) -> list[str]:
        return await self._storage.list(ROLE_PREFIX)

    async def load_role(self, name: str) -> Role | None:
        raw = await self._storage.get(ROLE_PREFIX + name.lower())
        return None if raw is None else Role.from_json(decode(raw))

    async def existing_role(self, name: str, missing: Exception) -> Role:
        role = await self.load_role(name)
        if role is None:
            raise missing
        return role

    async def role_name_for(self, role_id: str) -> str | None:
        raw = await self._storage.get(self._role_id_key(role_id))
        return None if raw is None else decode(raw).get("name")

    async def save_role(self, name: str, role: Role, previous_role_id: str) -> None:
        """Store the role under `name` with its role_id index, dropping the index of a role_id it no longer has."""
        operations: list[Put | Delete] = []
        if previous_role_id and previous_role_id != role.role_id:
            operations.append(Delete(self._role_id_key(previous_role_id)))
        operations.append(Put(ROLE_PREFIX + name, encode(role.to_json())))
        operations.append(Put(self._role_id_key(role.role_id), encode({"name": name})))
        await self._storage.transaction(operations)

    async def delete_role(self, role: Role) -> None:
        """Delete the role with its secret IDs (the caller holds `secret_lock`)."""
        operations: list[Put | Delete] = []
        for entry in await self.role_secrets(role):
            operations.append(Delete(self._accessor_path(entry.secret_id_accessor)))
            operations.append(Delete(self._secret_path(role, entry.secret_id_hmac)))
        operations.append(Delete(self._role_id_key(role.role_id)))
        operations.append(Delete(ROLE_PREFIX + role.name))
        await self._storage.transaction(operations)

    def _role_id_key(self, role_id: str) -> str:
        return ROLE_ID_PREFIX + self.mac("role_id", role_id)

    # -- secret IDs ---------------------------------------------------------------------------

    def _secret_folder(self, role: Role) -> str:
        return f"{SECRET_ID_PREFIX}{self.mac('role_name', role.name)}/"

    def _secret_path(self, role: Role, secret_hmac: str) -> str:
        return self._secret_folder(role) + secret_hmac

    def _accessor_path(self, accessor: str) -> str:
        return ACCESSOR_PREFIX + self.mac("accessor", accessor)

    async def load_secret(self, role: Role, secret_hmac: str) -> SecretIdEntry | None:
        """A live secret ID of the role; an expired one is deleted and reported absent."""
        raw = await self._storage.get(self._secret_path(role, secret_hmac))
        if raw is None:
            return None
        entry = SecretIdEntry.from_json(decode(raw))
        if not hmac.compare_digest(entry.secret_id_hmac, secret_hmac):
            return None
        if entry.expired(self.clock()):
            await self.drop_secret(role, entry)
            return None
        return entry

    async def role_secrets(self, role: Role) -> list[SecretIdEntry]:
        """Every secret ID of the role as stored, expired ones included."""
        folder = self._secret_folder(role)
        entries = []
        for key in await self._storage.list(folder):
            raw = await self._storage.get(folder + key)
            if raw is not None:
                entries.append(SecretIdEntry.from_json(decode(raw)))
        return entries

    async def register_secret(self, role: Role, entry: SecretIdEntry) -> None:
        """Store a new secret ID with its accessor index."""
        target = {"role_name_hmac": self.mac("role_name", role.name), "secret_id_hmac": entry.secret_id_hmac}
        await self._storage.transaction(
            [
                Put(self._accessor_path(entry.secret_id_accessor), encode(target)),
                Put(self._secret_path(role, entry.secret_id_hmac), encode(entry.to_json())),
            ]
        )

    async def save_secret(self, role: Role, entry: SecretIdEntry) -> None:
        await self._storage.put(self._secret_path(role, entry.secret_id_hmac), encode(entry.to_json()))

    async def drop_secret(self, role: Role, entry: SecretIdEntry) -> None:
        """Delete a secret ID and its accessor index."""
        accessor = Delete(self._accessor_path(entry.secret_id_accessor))
        await self._storage.transaction([accessor, Delete(self._secret_path(role, entry.secret_id_hmac))])

    async def drop_unindexed_secret(self, role: Role, entry: SecretIdEntry) -> None:
        """Delete a secret ID whose accessor index is gone."""
        await self._storage.delete(self._secret_path(role, entry.secret_id_hmac))

    async def accessor_target(self, accessor: str) -> dict[str, str] | None:
        """`{"role_name_hmac", "secret_id_hmac"}` of the secret ID with this accessor."""
        raw = await self._storage.get(self._accessor_path(accessor))
        return None if raw is None else decode(raw)
