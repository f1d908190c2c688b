"""The wording and answers of Vault's legacy quorum endpoints (`sys/rekey/*`, `sys/rekey-recovery-key/*`,
`sys/generate-root/*`): the fields in Vault's struct order. The authenticated routes' are the system
backend's (core/builtin/system/rotate_wording.py)."""

from __future__ import annotations

from typing import Any

from strongroom.core.quorum.generate_root import ROOT_TOKEN_LENGTH, RootStatus, RootWording
from strongroom.core.quorum.rekey import RekeyResult, RekeyStatus, VerifyStatus, Wording

LEGACY = Wording(
    already_running="rekey already in progress",
    invalid_config="invalid rekey seal configuration: {error}",
    pgp_count="incorrect number of PGP keys for rekey",
    none_running="no {target} rekey in progress",
    key_missing="'key' must be specified in request body as JSON",
    nonce_missing=None,
    wrong_nonce='incorrect nonce supplied; nonce for this rekey operation is "{nonce}"',
    awaiting_verification=(
        'rekey already finished; verification must be performed; nonce for the verification operation is "{nonce}"'
    ),
    duplicate="given key has already been provided during this generation operation",
    no_config="no rekey configuration found",
    no_operation="no rekey in progress",
    no_verification="no rekey verification in progress",
    verification_failed="rekey verification failed; incorrect key shares supplied",
)

LEGACY_ROOT = RootWording(key_missing="'key' must be specified in request body as JSON", nonce_missing=None)


def legacy_rekey_status(status: RekeyStatus) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "nonce": status.nonce,
        "started": status.started,
        "t": status.threshold,
        "n": status.shares,
        "progress": status.progress,
        "required": status.required,
        "pgp_fingerprints": status.pgp_fingerprints,
        "backup": status.backup,
        "verification_required": status.verification_required,
    }
    if status.verification_nonce:
        answer["verification_nonce"] = status.verification_nonce
    return answer


def legacy_rekey_result(result: RekeyResult) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "nonce": result.nonce,
        "complete": True,
        "keys": result.keys,
        "keys_base64": result.keys_base64,
        "pgp_fingerprints": result.pgp_fingerprints,
        "backup": result.backup,
        "verification_required": result.verification_required,
    }
    if result.verification_nonce:
        answer["verification_nonce"] = result.verification_nonce
    return answer


def legacy_verify_status(status: VerifyStatus) -> dict[str, Any]:
    return {
        "nonce": status.nonce,
        "started": status.started,
        "t": status.threshold,
        "n": status.shares,
        "progress": status.progress,
    }


def legacy_root_status(status: RootStatus, *, otp_length: int = ROOT_TOKEN_LENGTH) -> dict[str, Any]:
    return {
        "nonce": status.nonce,
        "started": status.started,
        "progress": status.progress,
        "required": status.required,
        "complete": status.complete,
        "encoded_token": status.encoded_token,
        "encoded_root_token": status.encoded_token,
        "pgp_fingerprint": status.pgp_fingerprint,
        "otp": status.otp,
        "otp_length": otp_length,
    }
