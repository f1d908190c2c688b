"""The pkcs11 seal's blob:

    version (1 byte, 1) | mechanism (4 bytes, big endian: 0x1087) | label length (2) | key label (UTF-8)
    | id length (2) | key id | IV (12) | ciphertext + 128-bit tag

The header (everything before the IV) is the GCM associated data, so it cannot be changed to point at
another key. Decrypt finds the key by the label and id in the blob, so blobs made under an earlier
`key_label` still decrypt while that key stays on the token.
"""

from __future__ import annotations

import struct

from strongroom.seals.base import SealUnavailable
from strongroom.seals.pkcs11.settings import CKM_AES_GCM

BLOB_VERSION = 1
IV_SIZE = 12
TAG_BITS = 128

_HEADER = struct.Struct(">BI")
_LENGTH = struct.Struct(">H")


def build_header(label: str, key_id: bytes) -> bytes:
    encoded = label.encode()
    return (
        _HEADER.pack(BLOB_VERSION, CKM_AES_GCM)
        + _LENGTH.pack(len(encoded))
        + encoded
        + _LENGTH.pack(len(key_id))
        + key_id
    )


def parse_blob(blob: bytes) -> tuple[str, bytes, bytes, bytes, bytes]:
    """-> key label, key id, header (the associated data), IV, ciphertext+tag."""
    try:
        version, mechanism = _HEADER.unpack_from(blob, 0)
        offset = _HEADER.size
        if version != BLOB_VERSION:
            raise SealUnavailable(f"pkcs11 seal: not a pkcs11-seal blob (format version {version})")
        if mechanism != CKM_AES_GCM:
            raise SealUnavailable(f"pkcs11 seal: the blob was made with mechanism {mechanism:#x}, not CKM_AES_GCM")
        (label_length,) = _LENGTH.unpack_from(blob, offset)
        offset += _LENGTH.size
        label = blob[offset : offset + label_length].decode()
        offset += label_length
        (id_length,) = _LENGTH.unpack_from(blob, offset)
        offset += _LENGTH.size
        key_id = blob[offset : offset + id_length]
        offset += id_length
    except (struct.error, UnicodeDecodeError):
        raise SealUnavailable("pkcs11 seal: the blob is truncated or corrupt") from None
    if len(key_id) != id_length or len(blob) < offset + IV_SIZE + TAG_BITS // 8:
        raise SealUnavailable("pkcs11 seal: the blob is truncated")
    return label, bytes(key_id), blob[:offset], blob[offset : offset + IV_SIZE], blob[offset + IV_SIZE :]
