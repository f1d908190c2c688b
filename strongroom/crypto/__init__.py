"""The project's hazardous materials: the only code that imports `cryptography` (an import contract in
pyproject.toml checks it). Everything here is a primitive with no notion of Vault's formats, each tested
against published vectors in tests/unit/test_<module>.py. Misuse is easy and silent: a nonce given twice
(`aead.AeadKey.encrypt_with_nonce`), a raw signature over a caller's DigestInfo (`pkcs1`), key material left
in a buffer nobody wipes (`aead.wipe`). Callers above use the recipes they need and nothing else.
"""
