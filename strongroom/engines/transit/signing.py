"""hmac (`generate_hmac`), sign and verify: Vault's endpoints, parameters, answers and messages.

Their batches are maps of strings (`string_items`). sign and verify share how an item's input and context are
read and how the signing key is found (`_signing_key`, `_signed_input`); verify checks a signature, or an HMAC
when the items carry `hmac` instead.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from strongroom.engines.transit.batch import (
    BATCH,
    answer_items,
    decodable,
    error_of,
    not_a_list,
    parse_failure,
    run_items,
)
from strongroom.engines.transit.engine import TransitEngine
from strongroom.engines.transit.key import TransitKey
from strongroom.engines.transit.key_types import DEFAULT_HASH, HASHES, HASHLIB_NAMES
from strongroom.engines.transit.wire import MalformedVersioned, b64, split_versioned, versioned
from strongroom.logical.errors import BadRequest
from strongroom.logical.fields import BOOL, INT, STRING, FieldType, decode_fields, with_ignored_parameters
from strongroom.logical.go import go_b64decode, go_map, go_quote, go_type_name, parse_go_atoi
from strongroom.logical.request import Request, Response

HMAC_FIELDS: dict[str, FieldType | str] = {"input": STRING, "algorithm": STRING, "key_version": INT, BATCH: ""}
SIGN_FIELDS: dict[str, FieldType | str] = {
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
VERIFY_FIELDS: dict[str, FieldType | str] = {
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


@dataclass(frozen=True)
class SigningOptions:
    hash_name: str
    marshaling: str
    signature_algorithm: str
    salt_length: int | str
    prehashed: bool


async def generate_hmac(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response:
    fields = decode_fields(request.data, decodable(HMAC_FIELDS), prefixed=True)
    version = fields.get("key_version", 0)
    algorithm = match["urlalgorithm"] or fields.get("algorithm") or DEFAULT_HASH
    key = await engine.load(match["name"])
    if key is None:
        raise BadRequest("encryption key not found")
    if version == 0:
        version = key.latest_version
    elif version != key.latest_version and key.min_encryption_version > 0 and version < key.min_encryption_version:
        raise BadRequest("cannot generate HMAC: version is too old (disallowed by policy)")
    secret = key.hmac_key(version)
    if algorithm == "none":
        raise BadRequest("algorithm cannot be none")
    if algorithm not in HASHLIB_NAMES:
        raise BadRequest("unsupported algorithm '\\x00'")
    batch = request.data.get(BATCH)
    if batch is not None:
        items = string_items(batch)
    else:
        if request.data.get("input") is None:
            raise BadRequest("missing input for HMAC")
        items = [{"input": fields["input"]}]

    def hmac_item(index: int, item: Mapping[str, str]) -> dict[str, Any]:
        if "input" not in item:
            raise BadRequest("missing input for HMAC")
        data = _base64_input(item["input"])
        return {"hmac": versioned(version, b64(_hmac(secret, algorithm, data)))}

    results: list[dict[str, Any]] = [{} for _ in items]
    tally = run_items(items, results, hmac_item)
    body = answer_items(
        batch is not None,
        results,
        _references(items),
        tally,
        single=lambda result: {"hmac": result["hmac"]},
        batch_item=lambda result, reference: {**result, "reference": reference},
    )
    return with_ignored_parameters(request, HMAC_FIELDS, Response(data=body))


async def sign(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response:
    fields = decode_fields(request.data, decodable(SIGN_FIELDS), prefixed=True)
    options = _signing_options(match, fields)
    key = await _signing_key(engine, match, options, missing="signing key not found", verb="signing")
    batch = request.data.get(BATCH)
    if batch is not None:
        items = string_items(batch)
    else:
        items = [{"input": fields.get("input", ""), "context": fields.get("context", "")}]
    version = fields.get("key_version", 0)

    def sign_item(index: int, item: Mapping[str, str]) -> dict[str, Any]:
        message, context = _signed_input(key, item, options)
        signature, used, public = key.sign(
            version,
            context,
            message,
            hash_name=options.hash_name,
            marshaling=options.marshaling,
            signature_algorithm=options.signature_algorithm,
            salt_length=options.salt_length,
        )
        return {"signature": signature, "key_version": used, "public_key": public}

    results: list[dict[str, Any]] = [{} for _ in items]
    tally = run_items(items, results, sign_item)
    body = answer_items(batch is not None, results, _references(items), tally, single=_signed, batch_item=_signed_item)
    return with_ignored_parameters(request, SIGN_FIELDS, Response(data=body))


async def verify(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response:
    fields = decode_fields(request.data, decodable(VERIFY_FIELDS), prefixed=True)
    batch = request.data.get(BATCH)
    if batch is not None:
        items = string_items(batch)
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
        raise BadRequest("provide one of 'signature' or 'hmac'")
    if batch is None and not signatures and not hmacs:
        raise BadRequest("neither a 'signature' nor an 'hmac' were given to verify")
    if signatures and hmacs:
        raise BadRequest("elements of batch_input must all provide 'signature' or all provide 'hmac'")
    if missing and signatures:
        raise BadRequest("some elements of batch_input are missing 'signature'")
    if missing and hmacs:
        raise BadRequest("some elements of batch_input are missing 'hmac'")
    if missing:
        raise BadRequest("no batch_input elements have 'signature' or 'hmac'")
    if hmacs:
        return await _verify_hmac(engine, request, match, fields, items, batch is not None)

    options = _signing_options(match, fields)
    key = await _signing_key(
        engine, match, options, missing="signature verification key not found", verb="verification"
    )

    def verify_item(index: int, item: Mapping[str, str]) -> dict[str, Any]:
        message, context = _signed_input(key, item, options)
        valid = key.verify(
            context,
            message,
            item["signature"],
            hash_name=options.hash_name,
            marshaling=options.marshaling,
            signature_algorithm=options.signature_algorithm,
            salt_length=options.salt_length,
        )
        return {"valid": valid}

    results: list[dict[str, Any]] = [{} for _ in items]
    tally = run_items(items, results, verify_item)
    body = answer_items(
        batch is not None,
        results,
        _references(items),
        tally,
        single=lambda result: {"valid": result["valid"]},
        batch_item=lambda result, reference: {
            "valid": bool(result.get("valid")),
            **error_of(result),
            "reference": reference,
        },
    )
    return with_ignored_parameters(request, VERIFY_FIELDS, Response(data=body))


async def _verify_hmac(
    engine: TransitEngine,
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
    key = await engine.load(match["name"])
    if key is None:
        raise BadRequest("encryption key not found")
    if algorithm not in HASHLIB_NAMES:
        raise BadRequest(f"invalid hash algorithm {go_quote(algorithm)}")

    def verify_hmac_item(index: int, item: Mapping[str, str]) -> dict[str, Any]:
        if "input" not in item:
            raise BadRequest("missing input")
        data = _base64_input(item["input"])
        try:
            version, payload = split_versioned(item["hmac"])
        except MalformedVersioned as error:
            prefix = "invalid HMAC to verify" if str(error) == "no prefix" else "invalid HMAC"
            raise BadRequest(f"{prefix}: {error}") from None
        try:
            expected = go_b64decode(payload)
        except ValueError as error:
            raise BadRequest(f"unable to decode verification HMAC as base64: {error}") from None
        if version > key.latest_version:
            raise BadRequest("invalid HMAC: version is too new")
        if key.min_decryption_version > 0 and version < key.min_decryption_version:
            raise BadRequest("cannot verify HMAC: version is too old (disallowed by policy)")
        secret = key.hmac_key(version)
        return {"valid": hmac.compare_digest(_hmac(secret, algorithm, data), expected)}

    results: list[dict[str, Any]] = [{} for _ in items]
    tally = run_items(items, results, verify_hmac_item)
    body = answer_items(
        batched,
        results,
        _references(items),
        tally,
        single=lambda result: {"valid": result["valid"]},
        batch_item=lambda result, reference: {
            **({"valid": True} if result.get("valid") else {}),
            **error_of(result),
            "reference": reference,
        },
    )
    return with_ignored_parameters(request, VERIFY_FIELDS, Response(data=body))


# -- items ----------------------------------------------------------------------------------------


def string_items(raw: Any) -> list[dict[str, str]]:
    """The batches of hmac, sign and verify: maps of strings (mapstructure.Decode into map[string]string)."""
    if not isinstance(raw, list):
        raise not_a_list(raw)
    items: list[dict[str, str]] = []
    errors: list[str] = []
    for index, element in enumerate(raw):
        if not isinstance(element, dict):
            errors.append(f"'[{index}]' expected a map, got '{go_type_name(element)}'")
            continue
        item: dict[str, str] = {}
        for name, value in element.items():
            if isinstance(value, str):
                item[name] = value
            elif value is None:
                item[name] = ""
            else:
                kind = go_type_name(value)
                errors.append(f"'[{index}][{name}]' expected type 'string', got unconvertible type '{kind}'")
        items.append(item)
    if errors:
        raise parse_failure(errors)
    if not items:
        raise BadRequest("missing batch input to process")
    return items


def _references(items: list[dict[str, str]]) -> list[str]:
    return [item.get("reference", "") for item in items]


def _signing_options(match: re.Match[str], fields: Mapping[str, Any]) -> SigningOptions:
    hash_name = (
        match["urlalgorithm"] or fields.get("hash_algorithm", DEFAULT_HASH) or fields.get("algorithm") or DEFAULT_HASH
    )
    if hash_name not in HASHES:
        raise BadRequest(f"invalid hash algorithm {go_quote(hash_name)}")
    marshaling = fields.get("marshaling_algorithm", "asn1")
    if marshaling not in ("asn1", "jws"):
        raise BadRequest(f"invalid marshaling type {go_quote(marshaling)}")
    salt: int | str = "auto"
    if "salt_length" in fields:
        raw = fields["salt_length"]
        lowered = raw.lower()
        if lowered in ("auto", "hash"):
            salt = lowered
        else:
            try:
                salt = parse_go_atoi(lowered)
            except ValueError:
                raise BadRequest(f"salt length neither 'auto', 'hash', nor an int: {raw}") from None
            if salt < -1:
                raise BadRequest(f"salt length is invalid: {salt}")
    return SigningOptions(
        hash_name=hash_name,
        marshaling=marshaling,
        signature_algorithm=fields.get("signature_algorithm", ""),
        salt_length=salt,
        prehashed=fields.get("prehashed", False),
    )


async def _signing_key(
    engine: TransitEngine, match: re.Match[str], options: SigningOptions, *, missing: str, verb: str
) -> TransitKey:
    """The key of a sign or verify request, which must sign; and the check of hash_algorithm=none."""
    key = await engine.load(match["name"])
    if key is None:
        raise BadRequest(missing)
    if not key.type.signing:
        raise BadRequest(f"key type {key.type.name} does not support {verb}")
    if options.hash_name == "none" and (not options.prehashed or options.signature_algorithm != "pkcs1v15"):
        raise BadRequest("hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15")
    return key


def _signed_input(key: TransitKey, item: Mapping[str, str], options: SigningOptions) -> tuple[bytes, bytes]:
    """(what is signed, context): the item's input, hashed when the key type signs digests and the caller did
    not hash it; and its context, decoded."""
    if "input" not in item:
        raise BadRequest("missing input")
    data = _base64_input(item["input"])
    if key.type.hash_signature_input and not options.prehashed and options.hash_name != "none":
        data = hashlib.new(HASHLIB_NAMES[options.hash_name], data).digest()
    context = b""
    if item.get("context", ""):
        try:
            context = go_b64decode(item["context"])
        except ValueError:
            raise BadRequest("failed to base64-decode context") from None
    return data, context


def _base64_input(text: str) -> bytes:
    try:
        return go_b64decode(text)
    except ValueError as error:
        raise BadRequest(f"unable to decode input as base64: {error}") from None


def _hmac(secret: bytes, algorithm: str, data: bytes) -> bytes:
    return hmac.new(secret, data, HASHLIB_NAMES[algorithm]).digest()


def _signed(result: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"key_version": result["key_version"], "signature": result["signature"]}
    if result["public_key"]:
        body["public_key"] = b64(result["public_key"])
    return go_map(body)


def _signed_item(result: Mapping[str, Any], reference: str) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if result.get("signature"):
        item["signature"] = result["signature"]
    item["key_version"] = result.get("key_version", 0)
    if result.get("public_key"):
        item["publickey"] = b64(result["public_key"])
    item.update(error_of(result))
    item["reference"] = reference
    return item
