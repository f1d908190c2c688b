"""The wording and answers of OpenBao's authenticated quorum routes, `sys/rotate/*` and
`sys/generate-root-token/*`, which the system backend serves (`quorum.py` beside this file).

They are the system backend's presentation, as Vault's are logical_system.go's, so they live in the
core layer beside it; the legacy endpoints' are in http/quorum_wording.py. The answers are sorted as
Go maps are.
"""

from __future__ import annotations

from typing import Any

from strongroom.core.quorum.generate_root import ROOT_TOKEN_LENGTH, RootStatus, RootWording
from strongroom.core.quorum.rekey import RekeyResult, RekeyStatus, VerifyStatus, Wording
from strongroom.logical.go import go_map

ROTATE = Wording(
    already_running="rotation already in progress",
    invalid_config="invalid rotate seal configuration: {error}",
    pgp_count=(
        "invalid rotate seal configuration: count mismatch between number of provided PGP keys and number of shares"
    ),
    none_running="no {target} rotation in progress",
    key_missing="missing required field 'key'",
    nonce_missing="missing required field 'nonce'",
    wrong_nonce='incorrect nonce supplied; nonce for rotation is "{nonce}"',
    awaiting_verification=(
        'rotation already finished; verification must be performed; nonce for the verification operation is "{nonce}"'
    ),
    duplicate="given key has already been provided during this rotation",
    no_config="no rotation configuration found",
    no_operation="no rotation in progress",
    no_verification="no rotation verification in progress",
    verification_failed="rotation verification failed; incorrect key shares supplied",
)

ROTATE_ROOT = RootWording(key_missing="key is required", nonce_missing="nonce is required")


def rotate_rekey_status(status: RekeyStatus) -> dict[str, Any]:
    if not status.started:
        return {"n": 0, "required": status.required, "started": False, "t": 0}
    answer: dict[str, Any] = {
        "n": status.shares,
        "nonce": status.nonce,
        "progress": status.progress,
        "required": status.required,
        "started": True,
        "t": status.threshold,
        "verification_nonce": status.verification_nonce,
        "verification_required": status.verification_required,
    }
    if status.pgp_fingerprints:
        answer["backup"] = status.backup
        answer["pgp_fingerprints"] = status.pgp_fingerprints
    return go_map(answer)


def rotate_rekey_result(result: RekeyResult) -> dict[str, Any]:
    return {
        "backup": result.backup,
        "complete": True,
        "keys": result.keys,
        "keys_base64": result.keys_base64,
        "nonce": result.nonce,
        "pgp_fingerprints": result.pgp_fingerprints,
        "verification_nonce": result.verification_nonce,
        "verification_required": result.verification_required,
    }


def rotate_verify_status(status: VerifyStatus) -> dict[str, Any]:
    return {
        "n": status.shares,
        "nonce": status.nonce,
        "progress": status.progress,
        "started": status.started,
        "t": status.threshold,
    }


def rotate_root_attempt(status: RootStatus) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "complete": status.complete,
        "otp": status.otp,
        "otp_length": ROOT_TOKEN_LENGTH,
        "progress": status.progress,
        "required": status.required,
        "started": status.started,
    }
    if status.started:
        answer["nonce"] = status.nonce
        answer["pgp_fingerprint"] = status.pgp_fingerprint
    return go_map(answer)


def rotate_root_update(status: RootStatus) -> dict[str, Any]:
    return {
        "complete": status.complete,
        "encoded_token": status.encoded_token,
        "nonce": status.nonce,
        "pgp_fingerprint": status.pgp_fingerprint,
        "progress": status.progress,
        "required": status.required,
        "started": status.started,
    }
