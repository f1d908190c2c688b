"""The transit secrets engine ("encryption as a service"), with Vault's and OpenBao's endpoints,
parameters, answers and messages, so that `bao`/`vault` CLIs, hvac and Vault's transit auto-unseal
work against it unchanged. The key model and its cryptography live in `transit_keys`.

Endpoints (relative to the mount):

    keys/                               LIST the key names (after, limit)
    keys/<name>                         create (POST), read, delete (only with deletion_allowed)
    keys/<name>/config                  min_decryption_version, min_encryption_version, deletion_allowed,
                                        exportable, allow_plaintext_backup, auto_rotate_period
    keys/<name>/rotate                  a new latest version
    keys/<name>/trim                    forget versions below min_available_version
    keys/<name>/soft-delete             (DELETE) refuse every use until soft-delete-restore (OpenBao)
    keys/<name>/soft-delete-restore
    encrypt/<name>                      creates an aes256-gcm96 key on first use (upsert), unless config/keys
                                        has disable_upsert; the ACL sees that write as `create`
    decrypt/<name>, rewrap/<name>       (+ batch_input, like encrypt)
    datakey/plaintext|wrapped/<name>    bits 128, 256 or 512
    hmac/<name>[/<algorithm>]           (+ batch_input, key_version)
    sign/<name>[/<algorithm>]           (+ batch_input; marshaling_algorithm, signature_algorithm,
                                        prehashed, salt_length)
    verify/<name>[/<algorithm>]         a signature or an hmac (+ batch_input)
    hash[/<algorithm>]                  sha2-224/256/384/512, sha3-224/256/384/512; format hex or base64
    random[/<source>][/<bytes>]         format hex or base64; source platform, seal or all
    export/<type>/<name>[/<version>]    encryption-key, signing-key, hmac-key, public-key (format raw/der/pem)
    backup/<name>, restore[/<name>]     Vault's backup format (so keys move between Vault, OpenBao and us)
    cache-config                        size of the in-memory key cache (0: unlimited, else at least 10)
    config/keys                         disable_upsert

Storage, relative to the mount's view (the barrier encrypts every entry):

    policy/<name>                       one key: its settings and every version from min_available_version,
                                        JSON (TransitKey.encode)
    config/cache                        {"size": n}
    config/keys                         {"disable_upsert": bool}

Keys are cached in memory once read (an LRU bounded by cache-config's size), and so are the two
settings. A cached key is never changed in place: a change is made on a copy, stored, then swapped
in, so a request that already holds the key sees one stored state throughout. The changes of one
key (create, rotate, config, trim, delete, restore, backup's bookkeeping, automatic rotation,
filling the cache from storage) are serialised by a per-key asyncio lock, and start from the key as
stored, not as cached: another process may have changed it. Other processes' writes reach the cache
through `invalidate`; a fill that an invalidation overtook is dropped (a generation counter tells).

A batch in which some items fail answers, as Vault does, with every item's result and status 400
(500 for an internal failure, or the caller's partial_failure_response_code when some items
succeeded): that is `BatchFailure`, whose `response` and `status` the HTTP layer should send as they
are. Where Vault answers a caller's mistake with 500 (a bad backup, an unknown key on backup, a
derived ECDSA key), this engine answers 400 with the same message.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import re
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from strongroom.logical.backend import Backend, Handler, route
from strongroom.logical.errors import BadRequest, ErrorWithResponse, NotFound, StrongroomError
from strongroom.logical.mount import MountContext
from strongroom.logical.request import Operation, Request, Response
from strongroom.logical.storage_view import StorageView
from strongroom.engines.kv import (
    BOOL,
    DURATION,
    INT,
    STRING,
    decode_fields,
    go_quote,
    with_ignored_parameters,
)
from strongroom.engines.transit_keys import (
    HASHES,
    HASHLIB_NAMES,
    KEY_TYPES,
    MIN_AUTO_ROTATE_PERIOD,
    UNSUPPORTED_TYPES,
    InternalError,
    KeyType,
    TransitError,
    TransitKey,
    UserError,
    b64,
    go_atoi,
    go_b64decode,
)

READ, CREATE, UPDATE, DELETE, LIST = (
    Operation.READ,
    Operation.CREATE,
    Operation.UPDATE,
    Operation.DELETE,
    Operation.LIST,
)

POLICY_PREFIX = "policy/"
CACHE_CONFIG_KEY = "config/cache"
KEYS_CONFIG_KEY = "config/keys"
MIN_CACHE_SIZE = 10
MAX_RANDOM_BYTES = 128 * 1024
DEFAULT_HASH = "sha2-256"
#: Vault's framework.GenericNameRegex (ASCII \w, as Go's)
NAME = r"\w(?:[\w.@-]*\w)?"
BATCH = "batch_input"

# -- endpoint parameters: Vault's field schemas (decoded by `kv.decode_fields`) ----------------

KEYS_FIELDS = {
    "type": STRING,
    "derived": BOOL,
    "convergent_encryption": BOOL,
    "exportable": BOOL,
    "allow_plaintext_backup": BOOL,
    "context": STRING,
    "auto_rotate_period": DURATION,
    "key_size": INT,
    "external_key_ref": STRING,
}
LIST_FIELDS = {"after": STRING, "limit": INT}
CONFIG_FIELDS = {
    "min_decryption_version": INT,
    "min_encryption_version": INT,
    "deletion_allowed": BOOL,
    "exportable": BOOL,
    "allow_plaintext_backup": BOOL,
    "auto_rotate_period": DURATION,
}
ROTATE_FIELDS = {"external_key_ref": STRING}
TRIM_FIELDS = {"min_available_version": INT}
ENCRYPT_FIELDS = {
    "plaintext": STRING,
    "context": STRING,
    "type": STRING,
    "convergent_encryption": BOOL,
    "key_version": INT,
    "partial_failure_response_code": INT,
    "associated_data": STRING,
    BATCH: "",
}
DECRYPT_FIELDS = {
    "ciphertext": STRING,
    "context": STRING,
    "partial_failure_response_code": INT,
    "associated_data": STRING,
    BATCH: "",
}
REWRAP_FIELDS = {"ciphertext": STRING, "context": STRING, "key_version": INT, BATCH: ""}
DATAKEY_FIELDS = {"context": STRING, "bits": INT, "key_version": INT, "associated_data": STRING}
HMAC_FIELDS = {"input": STRING, "algorithm": STRING, "key_version": INT, BATCH: ""}
SIGN_FIELDS = {
    "input": STRING,
    "context": STRING,
    "hash_algorithm": STRING,
    "algorithm": STRING,
    "key_version": INT,
    "prehashed": BOOL,
    "signature_algorithm": STRING,
    "marshaling_algorithm": STRING,
    "salt_length": STRING,
    BATCH: "",
}
VERIFY_FIELDS = {
    "context": STRING,
    "signature": STRING,
    "hmac": STRING,
    "input": STRING,
    "hash_algorithm": STRING,
    "algorithm": STRING,
    "prehashed": BOOL,
    "signature_algorithm": STRING,
    "marshaling_algorithm": STRING,
    "salt_length": STRING,
    BATCH: "",
}
HASH_FIELDS = {"input": STRING, "algorithm": STRING, "format": STRING}
RANDOM_FIELDS = {"bytes": INT, "format": STRING}
EXPORT_FIELDS = {"format": STRING}
RESTORE_FIELDS = {"backup": STRING, "name": STRING, "force": BOOL}
CACHE_FIELDS = {"size": INT}
KEYS_CONFIG_FIELDS = {"disable_upsert": BOOL}
NO_FIELDS: dict[str, str] = {}


def _schema(fields: Mapping[str, str]) -> dict[str, str]:
    """The decodable part of a schema (batch_input is read raw, as Vault's handlers do)."""
    return {name: kind for name, kind in fields.items() if kind}


def _sorted(data: Mapping[str, Any]) -> dict[str, Any]:
    """As Go's JSON encoder writes a map: keys sorted."""
    return dict(sorted(data.items()))


class BatchFailure(ErrorWithResponse):
    """Some items of a batch failed: Vault sends the whole response (every item, with its `error`) with
    this status."""

    def __init__(self, response: Response, status: int, errors: list[str]) -> None:
        super().__init__(response, *dict.fromkeys(errors))
        self.status = status


def _user(message: str) -> BadRequest:
    return BadRequest(message)


def _from_transit(error: TransitError) -> StrongroomError:
    return BadRequest(str(error)) if isinstance(error, UserError) else StrongroomError(str(error))


# -- batch items ----------------------------------------------------------------------------------


@dataclass
class Item:
    """One item of a batch (or the single request): Vault's BatchRequestItem."""

    context: str = ""
    plaintext: str = ""
    ciphertext: str = ""
    key_version: int = 0
    associated_data: str = ""
    reference: str = ""
    decoded_context: bytes = b""


_GO_KINDS = {
    type(None): "<nil>",
    str: "string",
    bool: "bool",
    int: "json.Number",
    float: "json.Number",
    list: "[]interface {}",
    dict: "map[string]interface {}",
}


def _go_type(value: Any) -> str:
    """How Go's %T names a decoded JSON value."""
    return _GO_KINDS.get(type(value), "interface {}")


def _ciphertext_items(
    batch: Any, fields: dict[str, Any], *, require: str, single: Callable[[], Item]
) -> tuple[list[Item], list[dict[str, Any]], bool]:
    """What decrypt and rewrap work on: the batch (or the single request as one item), each item's context
    decoded; an item without a ciphertext or with a bad context gets its error in the results (and True is
    returned, "a caller's item failed")."""
    if batch is not None:
        items = _cipher_batch(batch, require=require)
        if not items:
            raise _user("missing batch input to process")
    else:
        if not fields.get("ciphertext"):
            raise _user("missing ciphertext to decrypt")
        items = [single()]
    results: list[dict[str, Any]] = [{} for _ in items]
    _check_contexts(items)
    user_errors = False
    for index, item in enumerate(items):
        if not item.ciphertext:
            results[index]["error"] = "missing ciphertext to decrypt"
            user_errors = True
        elif item.context:
            try:
                item.decoded_context = go_b64decode(item.context)
            except ValueError as error:
                results[index]["error"] = str(error)
                user_errors = True
    return items, results, user_errors


def _cipher_batch(raw: Any, *, require: str) -> list[Item]:
    """Vault's decodeBatchRequestItems: strings where strings belong, `require` ("plaintext" or
    "ciphertext") in every item; the errors of all items together."""
    if not isinstance(raw, list):
        raise _user(f"failed to parse batch input: source data must be an array or slice, got {_go_type(raw)}")
    items: list[Item] = []
    errors: list[str] = []
    for index, element in enumerate(raw):
        if not isinstance(element, dict):
            raise _user(f"failed to parse batch input: [{index}] expected a map, got '{_go_type(element)}'")
        item = Item()
        for name in ("context", "ciphertext", "plaintext", "associated_data", "reference"):
            if name not in element:
                if name == require:
                    verb = "encrypt" if name == "plaintext" else "decrypt"
                    errors.append(f"'[{index}].{name}' missing {name} to {verb}")
                continue
            value = element[name]
            if value is None and name != "plaintext":
                continue
            if isinstance(value, str):
                setattr(item, name, value)
            else:
                errors.append(f"'[{index}].{name}' expected type 'string', got unconvertible type '{_go_type(value)}'")
        if element.get("key_version") is not None:
            value = element["key_version"]
            if isinstance(value, int) and not isinstance(value, bool):
                item.key_version = value
            elif isinstance(value, str):
                try:
                    item.key_version = go_atoi(value)
                except ValueError:
                    errors.append(f"'[{index}].key_version' expected type 'int', got unconvertible type 'string'")
            else:
                errors.append(
                    f"'[{index}].key_version' expected type 'int', got unconvertible type '{_go_type(value)}'"
                )
        items.append(item)
    if errors:
        raise _user("failed to parse batch input: " + "\n".join(errors))
    return items


def _string_batch(raw: Any) -> list[dict[str, str]]:
    """The batches of hmac, sign and verify: maps of strings (mapstructure.Decode into map[string]string)."""
    if not isinstance(raw, list):
        raise _user(f"failed to parse batch input: source data must be an array or slice, got {_go_type(raw)}")
    items: list[dict[str, str]] = []
    errors: list[str] = []
    for index, element in enumerate(raw):
        if not isinstance(element, dict):
            errors.append(f"'[{index}]' expected a map, got '{_go_type(element)}'")
            continue
        item: dict[str, str] = {}
        for name, value in element.items():
            if isinstance(value, str):
                item[name] = value
            elif value is None:
                item[name] = ""
            else:
                errors.append(f"'[{index}][{name}]' expected type 'string', got unconvertible type '{_go_type(value)}'")
        items.append(item)
    if errors:
        raise _user("failed to parse batch input: " + "\n".join(errors))
    return items


def _batch_outcome(
    fields: Mapping[str, Any],
    response: Response,
    successes: bool,
    user_errors: bool,
    internal_errors: bool,
    errors: list[str],
) -> Response:
    """Vault's batchRequestResponse: 400 (500) with the whole body when an item failed."""
    if not (user_errors or internal_errors):
        return response
    status = 400 if user_errors else 500
    code = fields.get("partial_failure_response_code")
    if code is not None and successes:
        if 1 <= code <= 599:
            status = code
        else:
            response.warnings = [
                *(response.warnings or []),
                f"invalid HTTP response code override from partial_failure_response_code, reverting to {status}",
            ]
    if status == 200:
        return response
    raise BatchFailure(response, status, errors)


# -- the engine -----------------------------------------------------------------------------------


class TransitEngine:
    def __init__(self, storage: StorageView, *, caching: bool = True) -> None:
        self.storage = storage
        #: off when the mount was made with force_no_cache: every request reads its key from storage
        self.caching = caching
        self._cache: OrderedDict[str, TransitKey] = OrderedDict()
        self._cache_size = 0
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._disable_upsert = False
        #: moves on every invalidation of a key: a fill from a read it overtook is dropped
        self._generation = 0
        #: set when another process wrote config/cache or config/keys: read them again before use
        self._settings_stale = False

    async def load_config(self) -> None:
        self._settings_stale = False  # an invalidation during the reads below sets it again
        raw = await self.storage.get(CACHE_CONFIG_KEY)
        self._cache_size = json.loads(raw)["size"] if raw is not None else 0
        raw = await self.storage.get(KEYS_CONFIG_KEY)
        self._disable_upsert = bool(json.loads(raw)["disable_upsert"]) if raw is not None else False
        self._trim_cache()

    async def _settings(self) -> None:
        """Make the cached settings current (after another process changed them)."""
        if self._settings_stale:
            await self.load_config()

    def invalidate(self, key: str) -> None:
        """Forget what is cached of `key` (relative to the mount's view), which another process wrote."""
        if key.startswith(POLICY_PREFIX):
            self._cache.pop(key[len(POLICY_PREFIX) :], None)
            self._generation += 1
        elif key in (CACHE_CONFIG_KEY, KEYS_CONFIG_KEY):
            self._settings_stale = True

    def invalidate_all(self) -> None:
        self._cache.clear()
        self._generation += 1
        self._settings_stale = True

    # keys in storage and in memory --------------------------------------------------------------

    def _lock(self, name: str) -> asyncio.Lock:
        lock = self._locks.get(name)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[name] = lock
        return lock

    def _remember(self, key: TransitKey) -> None:
        if not self.caching:
            return
        self._cache[key.name] = key
        self._cache.move_to_end(key.name)
        self._trim_cache()

    def _trim_cache(self) -> None:
        while self._cache_size and len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def _stored(self, name: str) -> TransitKey | None:
        """The key as stored now, then cached unless an invalidation overtook the read; the caller holds
        the key's lock. Changes start from here rather than from memory, which may not know yet of
        another process's change."""
        await self._settings()
        generation = self._generation
        raw = await self.storage.get(POLICY_PREFIX + name)
        if raw is None:
            self._cache.pop(name, None)
            return None
        key = TransitKey.decode(raw)
        if generation == self._generation:
            self._remember(key)
        return key

    async def load(self, name: str) -> TransitKey | None:
        """The key as last stored; a miss in memory is filled under the key's lock, so that a delete
        running at the same time cannot leave a stale copy behind."""
        await self._settings()
        key = self._cache.get(name)
        if key is not None:
            self._cache.move_to_end(name)
        elif not self.caching:
            key = await self._stored(name)  # nothing is remembered, so nothing can go stale
        else:
            async with self._lock(name):
                key = self._cache.get(name)  # filled by a request that held the lock before this one
                if key is None:
                    key = await self._stored(name)
        if key is not None and key.rotation_due(time.time_ns()):
            key = await self._auto_rotate(name)
        return key

    async def _auto_rotate(self, name: str) -> TransitKey | None:
        """Vault rotates keys past their auto_rotate_period from a periodic task; here the first use after
        the period does it (a key nobody uses does not need a new version)."""
        async with self._lock(name):
            key = await self._stored(name)
            if key is not None and key.rotation_due(time.time_ns()):
                key = await _generate(key.type, key.rotated)
                await self._store(key)
            return key

    async def _store(self, key: TransitKey) -> None:
        generation = self._generation
        await self.storage.put(POLICY_PREFIX + key.name, key.encode())
        if generation == self._generation:
            self._remember(key)
        else:  # another process wrote the key meanwhile: which write storage kept is not known here
            self._cache.pop(key.name, None)

    async def _forget(self, name: str) -> None:
        await self.storage.delete(POLICY_PREFIX + name)
        self._cache.pop(name, None)

    # keys ---------------------------------------------------------------------------------------

    async def list_keys(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, LIST_FIELDS, prefixed=True)
        keys = sorted(await self.storage.list(POLICY_PREFIX))
        after = fields.get("after", "")
        if after:
            keys = [key for key in keys if key > after]
        limit = fields.get("limit", 0)
        if limit > 0:
            keys = keys[:limit]
        if not keys:
            raise NotFound()
        return with_ignored_parameters(request, LIST_FIELDS, Response(data={"keys": keys}))

    async def write_key(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, KEYS_FIELDS, prefixed=True)
        name = match["name"]
        derived = fields.get("derived", False)
        convergent = fields.get("convergent_encryption", False)
        type_name = fields.get("type", "aes256-gcm96")
        key_size = fields.get("key_size", 0)
        period = fields.get("auto_rotate_period", 0)
        if period != 0 and period < MIN_AUTO_ROTATE_PERIOD:
            raise _user("auto rotate period must be 0 to disable or at least an hour")
        if not derived and convergent:
            raise _user("convergent encryption requires derivation to be enabled")
        kind = _key_type(type_name)
        if key_size != 0:
            if kind.family != "hmac":
                raise _user(f"key_size is not valid for algorithm {kind.name}")
            if not 32 <= key_size <= 512:
                raise _user(f"invalid key_size {key_size}")
        if fields.get("external_key_ref"):
            raise _user("must provide type=external-key to use external_key_ref")
        async with self._lock(name):
            key = await self._stored(name)
            if key is None:
                key = await _generate(
                    kind,
                    lambda: TransitKey.create(
                        name,
                        kind,
                        derived=derived,
                        convergent=convergent,
                        exportable=fields.get("exportable", False),
                        allow_plaintext_backup=fields.get("allow_plaintext_backup", False),
                        auto_rotate_period=period,
                        key_size=key_size,
                    ),
                )
                await self._store(key)
        return with_ignored_parameters(request, KEYS_FIELDS, Response(data=key.describe()))

    async def read_key(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, KEYS_FIELDS, prefixed=True)
        key = await self.load(match["name"])
        if key is None:
            raise NotFound()
        context = b""
        if fields.get("context"):
            try:
                context = go_b64decode(fields["context"])
            except ValueError:
                raise _user("failed to base64-decode context") from None
        data = _transit(lambda: key.describe(context))
        return with_ignored_parameters(request, KEYS_FIELDS, Response(data=data))

    async def delete_key(self, request: Request, match: re.Match[str]) -> None:
        name = match["name"]
        async with self._lock(name):
            key = await self._stored(name)
            if key is None:
                raise _user(f"error deleting policy {name}: could not delete key; not found")
            if not key.deletion_allowed:
                raise _user(f"error deleting policy {name}: deletion is not allowed for this key")
            await self._forget(name)

    async def soft_delete(self, request: Request, match: re.Match[str]) -> Response | None:
        return await self._set_soft_deleted(request, match["name"], True)

    async def soft_delete_restore(self, request: Request, match: re.Match[str]) -> Response | None:
        return await self._set_soft_deleted(request, match["name"], False)

    async def _set_soft_deleted(self, request: Request, name: str, deleted: bool) -> Response | None:
        async with self._lock(name):
            key = await self._stored(name)
            if key is None:
                return None
            warnings = None
            if key.soft_deleted == deleted:
                warnings = ["key was already marked as soft deleted" if deleted else "key was already restored"]
            changed = key.clone()
            changed.soft_deleted = deleted
            await self._store(changed)
        return Response(data=changed.describe(), warnings=warnings)

    async def write_config(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, CONFIG_FIELDS, prefixed=True)
        name = match["name"]
        async with self._lock(name):
            key = await self._stored(name)
            if key is None:
                raise _user(f"no existing key named {name} could be found")
            changed = key.clone()
            warnings: list[str] = []
            persist = False
            if "min_decryption_version" in fields:
                wanted = fields["min_decryption_version"]
                if wanted < 0:
                    raise _user("min decryption version cannot be negative")
                if wanted == 0:
                    wanted = 1
                    warnings.append(
                        "since Vault 0.3 (prior to the OpenBao fork), transit key numbering starts at 1; "
                        "forcing minimum to 1"
                    )
                if wanted != changed.min_decryption_version:
                    if wanted > changed.latest_version:
                        raise _user(
                            f"cannot set min decryption version of {wanted}, "
                            f"latest key version is {changed.latest_version}"
                        )
                    changed.min_decryption_version = wanted
                    persist = True
            if "min_encryption_version" in fields:
                wanted = fields["min_encryption_version"]
                if wanted < 0:
                    raise _user("min encryption version cannot be negative")
                if wanted != changed.min_encryption_version:
                    if wanted > changed.latest_version:
                        raise _user(
                            f"cannot set min encryption version of {wanted}, "
                            f"latest key version is {changed.latest_version}"
                        )
                    changed.min_encryption_version = wanted
                    persist = True
            if 0 < changed.min_encryption_version < changed.min_decryption_version:
                raise _user(
                    "cannot set min encryption/decryption values; min encryption version of "
                    f"{changed.min_encryption_version} must be greater than or equal to min decryption version of "
                    f"{changed.min_decryption_version}"
                )
            if "deletion_allowed" in fields and fields["deletion_allowed"] != changed.deletion_allowed:
                changed.deletion_allowed = fields["deletion_allowed"]
                persist = True
            if changed.min_decryption_version == 0:
                changed.min_decryption_version = 1
                persist = True
            # both can only be switched on: a key once exported or backed up stays so
            if fields.get("exportable") and not changed.exportable:
                changed.exportable = True
                persist = True
            if fields.get("allow_plaintext_backup") and not changed.allow_plaintext_backup:
                changed.allow_plaintext_backup = True
                persist = True
            if "auto_rotate_period" in fields:
                period = fields["auto_rotate_period"]
                if period != 0 and period < MIN_AUTO_ROTATE_PERIOD:
                    raise _user("auto rotate period must be 0 to disable or at least an hour")
                if period != changed.auto_rotate_period:
                    changed.auto_rotate_period = period
                    persist = True
            if persist:
                if changed.min_available_version > changed.min_encryption_version:
                    raise _user("min encryption version should not be less than min available version")
                if changed.min_available_version > changed.min_decryption_version:
                    raise _user("min decryption version should not be less then min available version")
                await self._store(changed)
            else:
                changed = key
        response = Response(data=changed.describe(), warnings=warnings or None)
        return with_ignored_parameters(request, CONFIG_FIELDS, response)

    async def rotate(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, ROTATE_FIELDS, prefixed=True)
        name = match["name"]
        async with self._lock(name):
            key = await self._stored(name)
            if key is None:
                raise _user("key not found")
            if fields.get("external_key_ref"):
                raise _user(f"cannot use external_key_ref on key of type {key.type.name}")
            key = await _generate(key.type, key.rotated)
            await self._store(key)
        return with_ignored_parameters(request, ROTATE_FIELDS, Response(data=key.describe()))

    async def trim(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, TRIM_FIELDS, prefixed=True)
        name = match["name"]
        async with self._lock(name):
            key = await self._stored(name)
            if key is None:
                raise _user("invalid key name")
            if "min_available_version" not in fields:
                raise _user("missing min_available_version")
            wanted = fields["min_available_version"]
            if wanted < key.min_available_version:
                raise _user("minimum available version cannot be decremented")
            if key.min_encryption_version == 0:
                raise _user("minimum available version cannot be set when minimum encryption version is not set")
            if key.min_decryption_version == 0:
                raise _user("minimum available version cannot be set when minimum decryption version is not set")
            if wanted > key.min_encryption_version:
                raise _user("minimum available version cannot be greater than minmum encryption version")
            if wanted > key.min_decryption_version:
                raise _user("minimum available version cannot be greater than minimum decryption version")
            if wanted < 0:
                raise _user("minimum available version cannot be negative")
            if wanted == 0:
                raise _user("minimum available version should be positive")
            key = key.trimmed(wanted)
            await self._store(key)
        return with_ignored_parameters(request, TRIM_FIELDS, Response(data=key.describe()))

    # encrypt, decrypt, rewrap, datakey ----------------------------------------------------------

    async def encrypt_exists(self, request: Request, match: re.Match[str]) -> bool:
        return await self.load(match["name"]) is not None

    async def encrypt(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, _schema(ENCRYPT_FIELDS), prefixed=False)
        name = match["name"]
        batch = request.data.get(BATCH)
        if batch is not None:
            items = _cipher_batch(batch, require="plaintext")
            if not items:
                raise _user("missing batch input to process")
        else:
            if request.data.get("plaintext") is None:
                raise _user("missing plaintext to encrypt")
            items = [
                Item(
                    plaintext=fields["plaintext"],
                    context=fields.get("context", ""),
                    key_version=fields.get("key_version", 0),
                    associated_data=fields.get("associated_data", ""),
                )
            ]
        results: list[dict[str, Any]] = [{} for _ in items]
        context_set = _check_contexts(items)
        plaintexts: list[bytes] = [b""] * len(items)
        for index, item in enumerate(items):
            try:
                plaintexts[index] = go_b64decode(item.plaintext)
                if item.context:
                    item.decoded_context = go_b64decode(item.context)
            except ValueError as error:
                results[index]["error"] = str(error)

        warnings: list[str] = []
        if request.operation is CREATE:
            key, created = await self._upsert(name, fields, context_set)
            if not created:
                warnings.append(
                    "Attempted creation of the key during the encrypt operation, but it was created beforehand"
                )
        else:
            key = await self.load(name)
        if key is None:
            raise _user("encryption key not found")

        user_errors = internal_errors = successes = False
        for index, item in enumerate(items):
            result = results[index]
            if "error" in result:
                user_errors = True
                continue
            try:
                ciphertext, version = key.encrypt(
                    item.key_version,
                    item.decoded_context,
                    plaintexts[index],
                    _associated_data(key, item.associated_data, index),
                )
            except TransitError as error:
                result["error"] = str(error)
                internal_errors |= isinstance(error, InternalError)
                user_errors |= isinstance(error, UserError)
                continue
            successes = True
            result.update(ciphertext=ciphertext, key_version=version)

        if batch is None:
            if "error" in results[0]:
                raise (StrongroomError if internal_errors else BadRequest)(results[0]["error"])
            data: dict[str, Any] = {"ciphertext": results[0]["ciphertext"], "key_version": results[0]["key_version"]}
        else:
            data = {
                "batch_results": [
                    _encrypt_item(result, item.reference) for result, item in zip(results, items, strict=True)
                ]
            }
        response = with_ignored_parameters(request, ENCRYPT_FIELDS, Response(data=data, warnings=warnings or None))
        errors = [result["error"] for result in results if "error" in result]
        return _batch_outcome(fields, response, successes, user_errors, internal_errors, errors)

    async def _upsert(self, name: str, fields: Mapping[str, Any], context_set: bool) -> tuple[TransitKey | None, bool]:
        """Vault's encrypt-creates-the-key: (key, whether this request made it)."""
        convergent = fields.get("convergent_encryption", False)
        if convergent and not context_set:
            raise _user("convergent encryption requires derivation to be enabled, so context is required")
        type_name = fields.get("type", "aes256-gcm96")
        if type_name.startswith("ecdsa-"):
            raise _user(f"key type {type_name} not supported for this operation")
        kind = KEY_TYPES.get(type_name)
        if kind is None or kind.family != "aead":
            if type_name in UNSUPPORTED_TYPES:
                raise _user(f"key type {type_name} is not supported by this server")
            raise _user(f"unknown key type {type_name}")
        await self._settings()
        if self._disable_upsert:
            return await self.load(name), True
        async with self._lock(name):
            key = await self._stored(name)
            if key is not None:
                return key, False
            key = _transit(lambda: TransitKey.create(name, kind, derived=context_set, convergent=convergent))
            await self._store(key)
            return key, True

    async def decrypt(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, _schema(DECRYPT_FIELDS), prefixed=True)
        batch = request.data.get(BATCH)
        items, results, user_errors = _ciphertext_items(
            batch,
            fields,
            require="ciphertext",
            single=lambda: Item(
                ciphertext=fields["ciphertext"],
                context=fields.get("context", ""),
                associated_data=fields.get("associated_data", ""),
            ),
        )
        internal_errors = successes = False
        key = await self.load(match["name"])
        if key is None:
            raise _user("encryption key not found")
        for index, item in enumerate(items):
            result = results[index]
            if "error" in result:
                continue
            try:
                plaintext = key.decrypt(
                    item.decoded_context, item.ciphertext, _associated_data(key, item.associated_data, index)
                )
            except TransitError as error:
                result["error"] = str(error)
                internal_errors |= isinstance(error, InternalError)
                user_errors |= isinstance(error, UserError)
                continue
            successes = True
            result["plaintext"] = b64(plaintext)
        if batch is None:
            if "error" in results[0]:
                raise (StrongroomError if internal_errors else BadRequest)(results[0]["error"])
            data: dict[str, Any] = {"plaintext": results[0]["plaintext"]}
        else:
            data = {
                "batch_results": [
                    {"plaintext": result.get("plaintext", ""), **_error_of(result), "reference": item.reference}
                    for result, item in zip(results, items, strict=True)
                ]
            }
        response = with_ignored_parameters(request, DECRYPT_FIELDS, Response(data=data))
        errors = [result["error"] for result in results if "error" in result]
        return _batch_outcome(fields, response, successes, user_errors, internal_errors, errors)

    async def rewrap(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, _schema(REWRAP_FIELDS), prefixed=True)
        batch = request.data.get(BATCH)
        items, results, _ = _ciphertext_items(
            batch,
            fields,
            require="",
            single=lambda: Item(
                ciphertext=fields["ciphertext"],
                context=fields.get("context", ""),
                key_version=fields.get("key_version", 0),
            ),
        )
        key = await self.load(match["name"])
        if key is None:
            raise _user("encryption key not found")
        for index, item in enumerate(items):
            result = results[index]
            if "error" in result:
                continue
            try:
                plaintext = key.decrypt(item.decoded_context, item.ciphertext)
                ciphertext, version = key.encrypt(item.key_version, item.decoded_context, plaintext)
            except UserError as error:
                result["error"] = str(error)
                continue
            except InternalError as error:
                raise StrongroomError(str(error)) from None
            result.update(ciphertext=ciphertext, key_version=version)
        if batch is None:
            if "error" in results[0]:
                raise _user(results[0]["error"])
            data: dict[str, Any] = {"ciphertext": results[0]["ciphertext"], "key_version": results[0]["key_version"]}
        else:
            data = {
                "batch_results": [
                    _encrypt_item(result, item.reference) for result, item in zip(results, items, strict=True)
                ]
            }
        return with_ignored_parameters(request, REWRAP_FIELDS, Response(data=data))

    async def datakey(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, DATAKEY_FIELDS, prefixed=True)
        version = fields.get("key_version", 0)
        kind = match["plaintext"]
        if kind not in ("plaintext", "wrapped"):
            raise _user("Invalid path, must be 'plaintext' or 'wrapped'")
        context = b""
        if fields.get("context"):
            try:
                context = go_b64decode(fields["context"])
            except ValueError:
                raise _user("failed to base64-decode context") from None
        key = await self.load(match["name"])
        if key is None:
            raise _user("encryption key not found")
        bits = fields.get("bits", 256)
        if bits not in (128, 256, 512):
            raise _user("invalid bit length")
        material = os.urandom(bits // 8)
        associated = fields.get("associated_data", "")
        if associated and not key.type.associated_data:
            raise _user(f"'associated_data' provided for non-AEAD cipher suite {key.type.name}")
        ciphertext, used = _transit(
            lambda: key.encrypt(version, context, material, _associated_data(key, associated, 0))
        )
        data: dict[str, Any] = {"ciphertext": ciphertext, "key_version": used}
        if kind == "plaintext":
            data["plaintext"] = b64(material)
        return with_ignored_parameters(request, DATAKEY_FIELDS, Response(data=_sorted(data)))

    # hmac, sign, verify -------------------------------------------------------------------------

    async def hmac(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, _schema(HMAC_FIELDS), prefixed=True)
        version = fields.get("key_version", 0)
        algorithm = match["urlalgorithm"] or fields.get("algorithm") or DEFAULT_HASH
        key = await self.load(match["name"])
        if key is None:
            raise _user("encryption key not found")
        if version == 0:
            version = key.latest_version
        elif version != key.latest_version and key.min_encryption_version > 0 and version < key.min_encryption_version:
            raise _user("cannot generate HMAC: version is too old (disallowed by policy)")
        secret = _transit(lambda: key.hmac_key(version))
        if algorithm == "none":
            raise _user("algorithm cannot be none")
        if algorithm not in HASHLIB_NAMES:
            raise _user("unsupported algorithm '\\x00'")
        batch = request.data.get(BATCH)
        if batch is not None:
            items = _string_batch(batch)
            if not items:
                raise _user("missing batch input to process")
        else:
            if request.data.get("input") is None:
                raise _user("missing input for HMAC")
            items = [{"input": fields["input"]}]
        results: list[dict[str, Any]] = []
        for item in items:
            if "input" not in item:
                results.append({"error": "missing input for HMAC"})
                continue
            try:
                data = go_b64decode(item["input"])
            except ValueError as error:
                results.append({"error": f"unable to decode input as base64: {error}"})
                continue
            digest = _hmac(secret, algorithm, data)
            results.append({"hmac": f"vault:v{version}:{b64(digest)}"})
        if batch is None:
            if "error" in results[0]:
                raise _user(results[0]["error"])
            body: dict[str, Any] = {"hmac": results[0]["hmac"]}
        else:
            body = {
                "batch_results": [
                    {**result, "reference": item.get("reference", "")}
                    for result, item in zip(results, items, strict=True)
                ]
            }
        return with_ignored_parameters(request, HMAC_FIELDS, Response(data=body))

    async def sign(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, _schema(SIGN_FIELDS), prefixed=True)
        options = _signing_options(match, fields)
        key = await self.load(match["name"])
        if key is None:
            raise _user("signing key not found")
        if not key.type.signing:
            raise _user(f"key type {key.type.name} does not support signing")
        _check_none_hash(options)
        batch = request.data.get(BATCH)
        if batch is not None:
            items = _string_batch(batch)
            if not items:
                raise _user("missing batch input to process")
        else:
            items = [{"input": fields.get("input", ""), "context": fields.get("context", "")}]
        version = fields.get("key_version", 0)
        results: list[dict[str, Any]] = []
        for item in items:
            result: dict[str, Any] = {}
            results.append(result)
            message = _signed_input(key, item, options, result)
            if message is None:
                continue
            context = _item_context(item, result)
            if context is None:
                continue
            try:
                signature, used, public = key.sign(
                    version,
                    context,
                    message,
                    hash_name=options.hash_name,
                    marshaling=options.marshaling,
                    signature_algorithm=options.signature_algorithm,
                    salt_length=options.salt_length,
                    prehashed=options.prehashed,
                )
            except TransitError as error:
                result["error"] = str(error)
                result["internal"] = isinstance(error, InternalError)
                continue
            result.update(signature=signature, key_version=used, public_key=public)
        if batch is None:
            result = results[0]
            if "error" in result:
                raise (StrongroomError if result.get("internal") else BadRequest)(result["error"])
            body: dict[str, Any] = {"key_version": result["key_version"], "signature": result["signature"]}
            if result["public_key"]:
                body["public_key"] = b64(result["public_key"])
            body = _sorted(body)
        else:
            body = {
                "batch_results": [
                    _sign_item(result, item.get("reference", "")) for result, item in zip(results, items, strict=True)
                ]
            }
        return with_ignored_parameters(request, SIGN_FIELDS, Response(data=body))

    async def verify(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, _schema(VERIFY_FIELDS), prefixed=True)
        batch = request.data.get(BATCH)
        if batch is not None:
            items = _string_batch(batch)
            if not items:
                raise _user("missing batch input to process")
        else:
            item = {"input": fields.get("input", "")}
            for name in ("signature", "hmac"):
                if name in fields:
                    item[name] = fields[name]
            item["context"] = fields.get("context", "")
            items = [item]
        signatures = any("signature" in item for item in items)
        hmacs = any("hmac" in item and "signature" not in item for item in items)
        missing = any("signature" not in item and "hmac" not in item for item in items)
        if batch is None and signatures and hmacs:
            raise _user("provide one of 'signature' or 'hmac'")
        if batch is None and not signatures and not hmacs:
            raise _user("neither a 'signature' nor an 'hmac' were given to verify")
        if signatures and hmacs:
            raise _user("elements of batch_input must all provide 'signature' or all provide 'hmac'")
        if missing and signatures:
            raise _user("some elements of batch_input are missing 'signature'")
        if missing and hmacs:
            raise _user("some elements of batch_input are missing 'hmac'")
        if missing:
            raise _user("no batch_input elements have 'signature' or 'hmac'")
        if hmacs:
            return await self._verify_hmac(request, match, fields, items, batch is not None)

        options = _signing_options(match, fields)
        key = await self.load(match["name"])
        if key is None:
            raise _user("signature verification key not found")
        if not key.type.signing:
            raise _user(f"key type {key.type.name} does not support verification")
        _check_none_hash(options)
        results: list[dict[str, Any]] = []
        for item in items:
            result: dict[str, Any] = {}
            results.append(result)
            message = _signed_input(key, item, options, result)
            if message is None:
                continue
            context = _item_context(item, result)
            if context is None:
                continue
            try:
                result["valid"] = key.verify(
                    context,
                    message,
                    item["signature"],
                    hash_name=options.hash_name,
                    marshaling=options.marshaling,
                    signature_algorithm=options.signature_algorithm,
                    salt_length=options.salt_length,
                )
            except TransitError as error:
                result["error"] = str(error)
                result["internal"] = isinstance(error, InternalError)
        return self._verify_response(request, results, items, batch is not None)

    async def _verify_hmac(
        self,
        request: Request,
        match: re.Match[str],
        fields: Mapping[str, Any],
        items: list[dict[str, str]],
        batched: bool,
    ) -> Response:
        algorithm = (
            match["urlalgorithm"]
            or fields.get("hash_algorithm", DEFAULT_HASH)
            or fields.get("algorithm", DEFAULT_HASH)
            or DEFAULT_HASH
        )
        key = await self.load(match["name"])
        if key is None:
            raise _user("encryption key not found")
        if algorithm not in HASHLIB_NAMES:
            raise _user(f"invalid hash algorithm {go_quote(algorithm)}")
        results: list[dict[str, Any]] = []
        for item in items:
            result: dict[str, Any] = {}
            results.append(result)
            if "input" not in item:
                result["error"] = "missing input"
                continue
            try:
                data = go_b64decode(item["input"])
            except ValueError as error:
                result["error"] = f"unable to decode input as base64: {error}"
                continue
            given = item["hmac"]
            if not given.startswith("vault:v"):
                result["error"] = "invalid HMAC to verify: no prefix"
                continue
            parts = given[len("vault:v") :].split(":", 1)
            if len(parts) != 2:
                result["error"] = "invalid HMAC: wrong number of fields"
                continue
            try:
                version = go_atoi(parts[0])
            except ValueError:
                result["error"] = "invalid HMAC: version number could not be decoded"
                continue
            try:
                expected = go_b64decode(parts[1])
            except ValueError as error:
                result["error"] = f"unable to decode verification HMAC as base64: {error}"
                continue
            if version > key.latest_version:
                result["error"] = "invalid HMAC: version is too new"
                continue
            if key.min_decryption_version > 0 and version < key.min_decryption_version:
                result["error"] = "cannot verify HMAC: version is too old (disallowed by policy)"
                continue
            try:
                secret = key.hmac_key(version)
            except TransitError as error:
                result["error"] = str(error)
                continue
            result["valid"] = hmac.compare_digest(_hmac(secret, algorithm, data), expected)
        if not batched:
            if "error" in results[0]:
                raise _user(results[0]["error"])
            return with_ignored_parameters(request, VERIFY_FIELDS, Response(data={"valid": results[0]["valid"]}))
        body = {
            "batch_results": [
                {
                    **({"valid": True} if result.get("valid") else {}),
                    **_error_of(result),
                    "reference": item.get("reference", ""),
                }
                for result, item in zip(results, items, strict=True)
            ]
        }
        return with_ignored_parameters(request, VERIFY_FIELDS, Response(data=body))

    @staticmethod
    def _verify_response(
        request: Request, results: list[dict[str, Any]], items: list[dict[str, str]], batched: bool
    ) -> Response:
        if not batched:
            result = results[0]
            if "error" in result:
                raise (StrongroomError if result.get("internal") else BadRequest)(result["error"])
            return with_ignored_parameters(request, VERIFY_FIELDS, Response(data={"valid": result["valid"]}))
        body = {
            "batch_results": [
                {"valid": bool(result.get("valid")), **_error_of(result), "reference": item.get("reference", "")}
                for result, item in zip(results, items, strict=True)
            ]
        }
        return with_ignored_parameters(request, VERIFY_FIELDS, Response(data=body))

    # hash, random -------------------------------------------------------------------------------

    async def hash(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, HASH_FIELDS, prefixed=True)
        if request.data.get("input") is None:
            raise _user("input missing")
        form = fields.get("format") or "hex"
        algorithm = match["urlalgorithm"] or fields.get("algorithm") or DEFAULT_HASH
        try:
            data = go_b64decode(fields["input"])
        except ValueError as error:
            raise _user(f"unable to decode input as base64: {error}") from None
        if form not in ("hex", "base64"):
            raise _user(f'unsupported encoding format {form}; must be "hex" or "base64"')
        if algorithm not in HASHLIB_NAMES or algorithm == "sha1":
            raise _user(f"unsupported algorithm {algorithm}")
        digest = hashlib.new(HASHLIB_NAMES[algorithm], data).digest()
        total = digest.hex() if form == "hex" else b64(digest)
        return with_ignored_parameters(request, HASH_FIELDS, Response(data={"sum": total}))

    async def random(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, RANDOM_FIELDS, prefixed=True)
        source_part = match["source"] or ""
        bytes_part = match["urlbytes"] or ""
        source = "platform"
        count = fields.get("bytes", 32)
        if source_part == "":
            pass
        elif bytes_part == "" and source_part in ("platform", "seal", "all"):
            source = source_part
        elif bytes_part == "":
            count = _url_count(source_part)
        else:
            source = source_part
            count = _url_count(bytes_part)
        form = fields.get("format", "base64")
        if count < 1:
            raise _user("'bytes' cannot be less than 1")
        if count > MAX_RANDOM_BYTES:
            raise _user(f"'bytes' should be less than {MAX_RANDOM_BYTES}")
        if form not in ("hex", "base64"):
            raise _user(f'unsupported encoding format {go_quote(form)}; must be "hex" or "base64"')
        warnings = None
        if source == "seal":
            warnings = ["no seal/entropy augmentation available, using platform entropy source"]
        elif source not in ("", "platform", "all"):
            raise _user(f'unsupported entropy source {go_quote(source)}; must be "platform" or "seal", or "all"')
        data = os.urandom(count)
        text = data.hex() if form == "hex" else b64(data)
        return with_ignored_parameters(request, RANDOM_FIELDS, Response(data={"random_bytes": text}, warnings=warnings))

    # export, backup, restore --------------------------------------------------------------------

    async def export(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, EXPORT_FIELDS, prefixed=True)
        export_type = match["type"]
        form = fields.get("format", "")
        requested = match["version"] or ""
        if export_type not in ("encryption-key", "signing-key", "hmac-key", "public-key", "certificate-chain"):
            raise _user(f"invalid export type: {export_type}")
        if form not in ("", "raw", "der", "pem"):
            raise _user(f"invalid format: {form}")
        key = await self.load(match["name"])
        if key is None:
            raise NotFound()
        if not key.exportable and export_type not in ("public-key", "certificate-chain"):
            raise _user("private key material is not exportable")
        if key.soft_deleted:
            raise _user("refusing to use soft-deleted key")
        if export_type == "encryption-key" and not key.type.encryption:
            raise _user("encryption not supported for the key")
        if export_type == "signing-key" and not key.type.signing:
            raise _user("signing not supported for the key")
        if export_type == "certificate-chain":
            if not key.type.signing:
                raise _user("certificate chain not supported for keys that do not support signing")
            raise _user("selected key version does not have a certificate chain imported")
        if requested == "":
            chosen = key.live_versions()
        else:
            if requested == "latest":
                number = key.latest_version
            else:
                try:
                    number = go_atoi(requested[1:] if requested.startswith("v") else requested)
                except ValueError:
                    raise _user("invalid key version") from None
            if number < key.min_decryption_version:
                raise _user("version for export is below minimum decryption version")
            if number not in key.versions:
                raise _user("version does not exist or cannot be found")
            chosen = {number: key.versions[number]}
        exported = {}
        for number, entry in sorted(chosen.items(), key=lambda item: str(item[0])):
            try:
                exported[str(number)] = key.export(export_type, entry, form)
            except TransitError as error:
                raise _from_transit(error) from None
        data = {"keys": exported, "name": key.name, "type": key.type.name}
        return with_ignored_parameters(request, EXPORT_FIELDS, Response(data=data))

    async def backup(self, request: Request, match: re.Match[str]) -> Response:
        name = match["name"]
        async with self._lock(name):
            key = await self._stored(name)
            if key is None:
                raise _user(f"key {go_quote(name)} not found")
            if key.soft_deleted:
                raise _user("refusing to use soft-deleted key")
            if not key.exportable:
                raise _user("exporting is disallowed on the policy")
            if not key.allow_plaintext_backup:
                raise _user("plaintext backup is disallowed on the policy")
            key = key.clone()
            key.backup_info = (time.time_ns(), key.latest_version)
            await self._store(key)
            backup = key.vault_backup()
        return with_ignored_parameters(request, NO_FIELDS, Response(data={"backup": backup}))

    async def restore(self, request: Request, match: re.Match[str]) -> None:
        fields = decode_fields(request.data, RESTORE_FIELDS, prefixed=True)
        backup = fields.get("backup", "")
        force = fields.get("force", False)
        if not backup:
            raise _user("'backup' must be supplied")
        name = match["name"] or ""
        if "/" in name:
            raise _user("key names cannot be paths")
        key = _transit(lambda: TransitKey.from_vault_backup(backup, name))
        if not re.fullmatch(r"(?a)" + NAME, key.name):
            raise _user(f"invalid key name {go_quote(key.name)}")
        async with self._lock(key.name):
            existing = await self._stored(key.name)
            if existing is not None and not force:
                raise _user(f"key {go_quote(key.name)} already exists")
            key.restore_info = (time.time_ns(), key.latest_version)
            await self._store(key)

    # mount-wide settings ------------------------------------------------------------------------

    async def read_cache_config(self, request: Request, match: re.Match[str]) -> Response:
        decode_fields(request.data, CACHE_FIELDS, prefixed=True)
        if not self.caching:
            raise StrongroomError("caching is disabled for this transit mount")
        await self._settings()
        return with_ignored_parameters(request, CACHE_FIELDS, Response(data={"size": self._cache_size}))

    async def write_cache_config(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, CACHE_FIELDS, prefixed=True)
        size = fields.get("size", 0)
        if size != 0 and size < MIN_CACHE_SIZE:
            raise _user(f"size must be 0 or a value greater or equal to {MIN_CACHE_SIZE}")
        await self.storage.put(CACHE_CONFIG_KEY, json.dumps({"size": size}).encode())
        self._cache_size = size
        self._trim_cache()
        return with_ignored_parameters(request, CACHE_FIELDS, Response(data={"size": size}))

    async def read_keys_config(self, request: Request, match: re.Match[str]) -> Response:
        await self._settings()
        return with_ignored_parameters(
            request, KEYS_CONFIG_FIELDS, Response(data={"disable_upsert": self._disable_upsert})
        )

    async def write_keys_config(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, KEYS_CONFIG_FIELDS, prefixed=True)
        wanted = fields.get("disable_upsert", False)
        await self._settings()
        if wanted != self._disable_upsert:
            await self.storage.put(KEYS_CONFIG_KEY, json.dumps({"disable_upsert": wanted}).encode())
            self._disable_upsert = wanted
        return with_ignored_parameters(request, KEYS_CONFIG_FIELDS, Response(data={"disable_upsert": wanted}))

    # routes -------------------------------------------------------------------------------------

    def backend(self) -> Backend:
        key = rf"(?a)keys/(?P<name>{NAME})"
        algorithm = r"(?:/(?P<urlalgorithm>.+))?"
        routes = [
            _route(key + "/config", {UPDATE: self.write_config}),
            _route(key + "/rotate", {UPDATE: self.rotate}),
            _route(key + "/trim", {UPDATE: self.trim}),
            _route(key + "/soft-delete", {DELETE: self.soft_delete}),
            _route(key + "/soft-delete-restore", {UPDATE: self.soft_delete_restore}),
            _route(key, {READ: self.read_key, UPDATE: self.write_key, DELETE: self.delete_key}),
            _route(r"keys/?", {LIST: self.list_keys}),
            _route(
                rf"(?a)encrypt/(?P<name>{NAME})",
                {UPDATE: self.encrypt, CREATE: self.encrypt},
                exists=self.encrypt_exists,
                read_only=True,  # but for the upsert of a missing key, which a worker forwards when it tries
            ),
            _route(rf"(?a)decrypt/(?P<name>{NAME})", {UPDATE: self.decrypt}, read_only=True),
            _route(rf"(?a)rewrap/(?P<name>{NAME})", {UPDATE: self.rewrap}, read_only=True),
            _route(rf"(?a)datakey/(?P<plaintext>{NAME})/(?P<name>{NAME})", {UPDATE: self.datakey}, read_only=True),
            _route(rf"(?a)hmac/(?P<name>{NAME}){algorithm}", {UPDATE: self.hmac}, read_only=True),
            _route(rf"(?a)sign/(?P<name>{NAME}){algorithm}", {UPDATE: self.sign}, read_only=True),
            _route(rf"(?a)verify/(?P<name>{NAME}){algorithm}", {UPDATE: self.verify}, read_only=True),
            _route(rf"hash{algorithm}", {UPDATE: self.hash}, read_only=True),
            _route(rf"(?a)random(?:/(?P<source>{NAME}))?(?:/(?P<urlbytes>.+))?", {UPDATE: self.random}, read_only=True),
            _route(rf"(?a)export/(?P<type>{NAME})/(?P<name>{NAME})(?:/(?P<version>.+))?", {READ: self.export}),
            _route(rf"(?a)backup/(?P<name>{NAME})", {READ: self.backup}),
            _route(r"restore(?:/(?P<name>.+))?", {UPDATE: self.restore}),
            _route(r"cache-config", {READ: self.read_cache_config, UPDATE: self.write_cache_config}),
            _route(r"config/keys", {READ: self.read_keys_config, UPDATE: self.write_keys_config}),
        ]
        return Backend("transit", routes, invalidate=self.invalidate, invalidate_all=self.invalidate_all)


async def transit_backend(context: MountContext) -> Backend:
    """The EngineFactory of `transit` mounts."""
    engine = TransitEngine(context.storage, caching=not context.mount.config.force_no_cache)
    await engine.load_config()
    return engine.backend()


# -- helpers --------------------------------------------------------------------------------------


def _guarded(handler: Handler) -> Handler:
    """A TransitError that escapes a handler is answered as Vault does: 400 (the caller's) or 500."""

    async def guarded(request: Request, match: re.Match[str]) -> Response | None:
        try:
            return await handler(request, match)
        except TransitError as error:
            raise _from_transit(error) from None

    return guarded


def _route(pattern: str, handlers: dict[Operation, Handler], **options: Any) -> Any:
    return route(pattern, {operation: _guarded(handler) for operation, handler in handlers.items()}, **options)


async def _generate(kind: KeyType, action: Callable[[], TransitKey]) -> TransitKey:
    """Run `action` (which makes key material); RSA key generation takes long enough (a 4096-bit key can
    take seconds) to run in a worker thread, so other requests are not held up."""
    if kind.family == "rsa":
        return await asyncio.to_thread(_transit, action)  # type: ignore[no-any-return]
    return _transit(action)  # type: ignore[no-any-return]


def _transit(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except TransitError as error:
        raise _from_transit(error) from None


def _key_type(name: str) -> Any:
    kind = KEY_TYPES.get(name)
    if kind is None:
        if name in UNSUPPORTED_TYPES:
            raise _user(f"key type {name} is not supported by this server")
        raise _user(f"unknown key type {name}")
    return kind


def _check_contexts(items: list[Item]) -> bool:
    context_set = bool(items[0].context)
    for item in items:
        if bool(item.context) != context_set:
            raise _user("context should be set either in all the request blocks or in none")
    return context_set


def _associated_data(key: TransitKey, encoded: str, index: int) -> bytes | None:
    if not encoded:
        return None
    if not key.type.associated_data:
        raise UserError(f"'[{index}].associated_data' provided for non-AEAD cipher suite {key.type.name}")
    try:
        return go_b64decode(encoded)
    except ValueError as error:
        raise UserError(f"unable to get associated_data/additional_data from factory[0]: {error}") from None


def _error_of(result: Mapping[str, Any]) -> dict[str, str]:
    return {"error": result["error"]} if "error" in result else {}


def _encrypt_item(result: Mapping[str, Any], reference: str) -> dict[str, Any]:
    """EncryptBatchResponseItem: ciphertext, key_version and error only when set; reference always."""
    item: dict[str, Any] = {}
    if result.get("ciphertext"):
        item["ciphertext"] = result["ciphertext"]
    if result.get("key_version"):
        item["key_version"] = result["key_version"]
    item.update(_error_of(result))
    item["reference"] = reference
    return item


def _sign_item(result: Mapping[str, Any], reference: str) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if result.get("signature"):
        item["signature"] = result["signature"]
    item["key_version"] = result.get("key_version", 0)
    if result.get("public_key"):
        item["publickey"] = b64(result["public_key"])
    item.update(_error_of(result))
    item["reference"] = reference
    return item


def _hmac(secret: bytes, algorithm: str, data: bytes) -> bytes:
    return hmac.new(secret, data, HASHLIB_NAMES[algorithm]).digest()


def _url_count(text: str) -> int:
    try:
        return go_atoi(text)
    except ValueError as error:
        raise _user(f"error parsing url-set byte count: {error}") from None


@dataclass(frozen=True)
class SigningOptions:
    hash_name: str
    marshaling: str
    signature_algorithm: str
    salt_length: int | str
    prehashed: bool


def _signing_options(match: re.Match[str], fields: Mapping[str, Any]) -> SigningOptions:
    hash_name = (
        match["urlalgorithm"] or fields.get("hash_algorithm", DEFAULT_HASH) or fields.get("algorithm") or DEFAULT_HASH
    )
    if hash_name not in HASHES:
        raise _user(f"invalid hash algorithm {go_quote(hash_name)}")
    marshaling = fields.get("marshaling_algorithm", "asn1")
    if marshaling not in ("asn1", "jws"):
        raise _user(f"invalid marshaling type {go_quote(marshaling)}")
    salt: int | str = "auto"
    if "salt_length" in fields:
        raw = fields["salt_length"]
        lowered = raw.lower()
        if lowered in ("auto", "hash"):
            salt = lowered
        else:
            try:
                salt = go_atoi(lowered)
            except ValueError:
                raise _user(f"salt length neither 'auto', 'hash', nor an int: {raw}") from None
            if salt < -1:
                raise _user(f"salt length is invalid: {salt}")
    return SigningOptions(
        hash_name=hash_name,
        marshaling=marshaling,
        signature_algorithm=fields.get("signature_algorithm", ""),
        salt_length=salt,
        prehashed=fields.get("prehashed", False),
    )


def _check_none_hash(options: SigningOptions) -> None:
    if options.hash_name == "none" and (not options.prehashed or options.signature_algorithm != "pkcs1v15"):
        raise _user("hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15")


def _signed_input(
    key: TransitKey, item: Mapping[str, str], options: SigningOptions, result: dict[str, Any]
) -> bytes | None:
    """The item's input, hashed when the key type signs digests and the caller did not hash it."""
    if "input" not in item:
        result["error"] = "missing input"
        return None
    try:
        data = go_b64decode(item["input"])
    except ValueError as error:
        result["error"] = f"unable to decode input as base64: {error}"
        return None
    if key.type.hash_signature_input and not options.prehashed and options.hash_name != "none":
        data = hashlib.new(HASHLIB_NAMES[options.hash_name], data).digest()
    return data


def _item_context(item: Mapping[str, str], result: dict[str, Any]) -> bytes | None:
    raw = item.get("context", "")
    if not raw:
        return b""
    try:
        return go_b64decode(raw)
    except ValueError:
        result["error"] = "failed to base64-decode context"
        return None
