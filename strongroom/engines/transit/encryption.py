"""encrypt, decrypt, rewrap and datakey: Vault's endpoints, parameters, answers and messages.

encrypt creates an aes256-gcm96 (or the requested AEAD type's) key on first use, unless config/keys has
disable_upsert; the ACL sees that write as `create` (`encrypt_exists`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from strongroom.engines.transit.batch import (
    BATCH,
    answer_items,
    batch_outcome,
    decodable,
    error_of,
    not_a_list,
    parse_failure,
    run_items,
)
from strongroom.engines.transit.engine import TransitEngine
from strongroom.engines.transit.key import TransitKey
from strongroom.engines.transit.key_types import KEY_TYPES, UNSUPPORTED_TYPES
from strongroom.engines.transit.wire import b64
from strongroom.logical.errors import BadRequest
from strongroom.logical.fields import BOOL, INT, STRING, FieldType, decode_fields, with_ignored_parameters
from strongroom.logical.go import go_b64decode, go_map, go_type_name, parse_go_atoi
from strongroom.logical.request import Operation, Request, Response

ENCRYPT_FIELDS: dict[str, FieldType | str] = {
    "plaintext": STRING,
    "context": STRING,
    "type": STRING,
    "convergent_encryption": BOOL,
    "key_version": INT,
    "partial_failure_response_code": INT,
    "associated_data": STRING,
    BATCH: "",
}
DECRYPT_FIELDS: dict[str, FieldType | str] = {
    "ciphertext": STRING,
    "context": STRING,
    "partial_failure_response_code": INT,
    "associated_data": STRING,
    BATCH: "",
}
REWRAP_FIELDS: dict[str, FieldType | str] = {"ciphertext": STRING, "context": STRING, "key_version": INT, BATCH: ""}
DATAKEY_FIELDS = {"context": STRING, "bits": INT, "key_version": INT, "associated_data": STRING}


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


async def encrypt_exists(engine: TransitEngine, request: Request, match: re.Match[str]) -> bool:
    return await engine.load(match["name"]) is not None


async def encrypt(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response:
    fields = decode_fields(request.data, decodable(ENCRYPT_FIELDS), prefixed=False)
    name = match["name"]
    batch = request.data.get(BATCH)
    if batch is not None:
        items = cipher_items(batch, require="plaintext")
        if not items:
            raise BadRequest("missing batch input to process")
    else:
        if request.data.get("plaintext") is None:
            raise BadRequest("missing plaintext to encrypt")
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
    if request.operation is Operation.CREATE:
        key, created = await _upsert(engine, name, fields, context_set)
        if not created:
            warnings.append("Attempted creation of the key during the encrypt operation, but it was created beforehand")
    else:
        key = await engine.load(name)
    if key is None:
        raise BadRequest("encryption key not found")

    def encrypt_item(index: int, item: Item) -> dict[str, Any]:
        associated = _associated_data(key, item.associated_data, index)
        ciphertext, version = key.encrypt(item.key_version, item.decoded_context, plaintexts[index], associated)
        return {"ciphertext": ciphertext, "key_version": version}

    tally = run_items(items, results, encrypt_item)
    data = answer_items(
        batch is not None,
        results,
        [item.reference for item in items],
        tally,
        single=lambda result: {"ciphertext": result["ciphertext"], "key_version": result["key_version"]},
        batch_item=_encrypted_item,
    )
    response = with_ignored_parameters(request, ENCRYPT_FIELDS, Response(data=data, warnings=warnings or None))
    return batch_outcome(fields, response, tally, results)


async def _upsert(
    engine: TransitEngine, name: str, fields: Mapping[str, Any], context_set: bool
) -> tuple[TransitKey | None, bool]:
    """Vault's encrypt-creates-the-key: (key, whether this request made it)."""
    convergent = fields.get("convergent_encryption", False)
    if convergent and not context_set:
        raise BadRequest("convergent encryption requires derivation to be enabled, so context is required")
    type_name = fields.get("type", "aes256-gcm96")
    if type_name.startswith("ecdsa-"):
        raise BadRequest(f"key type {type_name} not supported for this operation")
    kind = KEY_TYPES.get(type_name)
    if kind is None or kind.family != "aead":
        if type_name in UNSUPPORTED_TYPES:
            raise BadRequest(f"key type {type_name} is not supported by this server")
        raise BadRequest(f"unknown key type {type_name}")
    await engine.refresh_settings()
    if engine.disable_upsert:
        return await engine.load(name), True
    async with engine.lock(name):
        key = await engine.stored(name)
        if key is not None:
            return key, False
        key = TransitKey.create(name, kind, derived=context_set, convergent=convergent)
        await engine.store(key)
        return key, True


async def decrypt(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response:
    fields = decode_fields(request.data, decodable(DECRYPT_FIELDS), prefixed=True)
    batch = request.data.get(BATCH)
    items, results = _ciphertext_items(
        batch,
        fields,
        require="ciphertext",
        single=Item(
            ciphertext=fields.get("ciphertext", ""),
            context=fields.get("context", ""),
            associated_data=fields.get("associated_data", ""),
        ),
    )
    key = await engine.load(match["name"])
    if key is None:
        raise BadRequest("encryption key not found")

    def decrypt_item(index: int, item: Item) -> dict[str, Any]:
        associated = _associated_data(key, item.associated_data, index)
        return {"plaintext": b64(key.decrypt(item.decoded_context, item.ciphertext, associated))}

    tally = run_items(items, results, decrypt_item)
    data = answer_items(
        batch is not None,
        results,
        [item.reference for item in items],
        tally,
        single=lambda result: {"plaintext": result["plaintext"]},
        batch_item=lambda result, reference: {
            "plaintext": result.get("plaintext", ""),
            **error_of(result),
            "reference": reference,
        },
    )
    response = with_ignored_parameters(request, DECRYPT_FIELDS, Response(data=data))
    return batch_outcome(fields, response, tally, results)


async def rewrap(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response:
    fields = decode_fields(request.data, decodable(REWRAP_FIELDS), prefixed=True)
    batch = request.data.get(BATCH)
    items, results = _ciphertext_items(
        batch,
        fields,
        require="",
        single=Item(
            ciphertext=fields.get("ciphertext", ""),
            context=fields.get("context", ""),
            key_version=fields.get("key_version", 0),
        ),
    )
    key = await engine.load(match["name"])
    if key is None:
        raise BadRequest("encryption key not found")

    def rewrap_item(index: int, item: Item) -> dict[str, Any]:
        plaintext = key.decrypt(item.decoded_context, item.ciphertext)
        ciphertext, version = key.encrypt(item.key_version, item.decoded_context, plaintext)
        return {"ciphertext": ciphertext, "key_version": version}

    tally = run_items(items, results, rewrap_item, stop_at_internal_errors=True)
    data = answer_items(
        batch is not None,
        results,
        [item.reference for item in items],
        tally,
        single=lambda result: {"ciphertext": result["ciphertext"], "key_version": result["key_version"]},
        batch_item=_encrypted_item,
    )
    return with_ignored_parameters(request, REWRAP_FIELDS, Response(data=data))


async def datakey(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response:
    fields = decode_fields(request.data, DATAKEY_FIELDS, prefixed=True)
    version = fields.get("key_version", 0)
    kind = match["plaintext"]
    if kind not in ("plaintext", "wrapped"):
        raise BadRequest("Invalid path, must be 'plaintext' or 'wrapped'")
    context = b""
    if fields.get("context"):
        try:
            context = go_b64decode(fields["context"])
        except ValueError:
            raise BadRequest("failed to base64-decode context") from None
    key = await engine.load(match["name"])
    if key is None:
        raise BadRequest("encryption key not found")
    bits = fields.get("bits", 256)
    if bits not in (128, 256, 512):
        raise BadRequest("invalid bit length")
    material = os.urandom(bits // 8)
    associated = fields.get("associated_data", "")
    if associated and not key.type.associated_data:
        raise BadRequest(f"'associated_data' provided for non-AEAD cipher suite {key.type.name}")
    ciphertext, used = key.encrypt(version, context, material, _associated_data(key, associated, 0))
    data: dict[str, Any] = {"ciphertext": ciphertext, "key_version": used}
    if kind == "plaintext":
        data["plaintext"] = b64(material)
    return with_ignored_parameters(request, DATAKEY_FIELDS, Response(data=go_map(data)))


# -- items ----------------------------------------------------------------------------------------


def cipher_items(raw: Any, *, require: str) -> list[Item]:
    """Vault's decodeBatchRequestItems: strings where strings belong, `require` ("plaintext" or
    "ciphertext") in every item; the errors of all items together."""
    if not isinstance(raw, list):
        raise not_a_list(raw)
    items: list[Item] = []
    errors: list[str] = []
    for index, element in enumerate(raw):
        if not isinstance(element, dict):
            raise parse_failure([f"[{index}] expected a map, got '{go_type_name(element)}'"])
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
                kind = go_type_name(value)
                errors.append(f"'[{index}].{name}' expected type 'string', got unconvertible type '{kind}'")
        if element.get("key_version") is not None:
            value = element["key_version"]
            if isinstance(value, int) and not isinstance(value, bool):
                item.key_version = value
            elif isinstance(value, str):
                try:
                    item.key_version = parse_go_atoi(value)
                except ValueError:
                    errors.append(f"'[{index}].key_version' expected type 'int', got unconvertible type 'string'")
            else:
                kind = go_type_name(value)
                errors.append(f"'[{index}].key_version' expected type 'int', got unconvertible type '{kind}'")
        items.append(item)
    if errors:
        raise parse_failure(errors)
    return items


def _ciphertext_items(
    batch: Any, fields: Mapping[str, Any], *, require: str, single: Item
) -> tuple[list[Item], list[dict[str, Any]]]:
    """What decrypt and rewrap work on: the batch (or the single request as one item), each item's context
    decoded; an item without a ciphertext or with a bad context gets its error in the results."""
    if batch is not None:
        items = cipher_items(batch, require=require)
        if not items:
            raise BadRequest("missing batch input to process")
    else:
        if not fields.get("ciphertext"):
            raise BadRequest("missing ciphertext to decrypt")
        items = [single]
    results: list[dict[str, Any]] = [{} for _ in items]
    _check_contexts(items)
    for index, item in enumerate(items):
        if not item.ciphertext:
            results[index]["error"] = "missing ciphertext to decrypt"
        elif item.context:
            try:
                item.decoded_context = go_b64decode(item.context)
            except ValueError as error:
                results[index]["error"] = str(error)
    return items, results


def _check_contexts(items: list[Item]) -> bool:
    context_set = bool(items[0].context)
    for item in items:
        if bool(item.context) != context_set:
            raise BadRequest("context should be set either in all the request blocks or in none")
    return context_set


def _associated_data(key: TransitKey, encoded: str, index: int) -> bytes | None:
    if not encoded:
        return None
    if not key.type.associated_data:
        raise BadRequest(f"'[{index}].associated_data' provided for non-AEAD cipher suite {key.type.name}")
    try:
        return go_b64decode(encoded)
    except ValueError as error:
        raise BadRequest(f"unable to get associated_data/additional_data from factory[0]: {error}") from None


def _encrypted_item(result: Mapping[str, Any], reference: str) -> dict[str, Any]:
    """EncryptBatchResponseItem: ciphertext, key_version and error only when set; reference always."""
    item: dict[str, Any] = {}
    if result.get("ciphertext"):
        item["ciphertext"] = result["ciphertext"]
    if result.get("key_version"):
        item["key_version"] = result["key_version"]
    item.update(error_of(result))
    item["reference"] = reference
    return item
