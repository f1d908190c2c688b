"""Throwaway OpenPGP keys for the tests, made by the real `gpg --batch --gen-key` in a temporary GNUPGHOME.

    with GpgKeyring.create(tmp_path) as ring:
        alice = ring.generate("alice")                # RSA with an encryption subkey
        bob = ring.generate("bob", kind="ecc")        # ed25519 + cv25519
        ring.generate("signer", can_encrypt=False)    # a key that cannot encrypt
        ring.decrypt(message)                          # gpg --decrypt with the secret keys made here

The keyring's gpg-agent is stopped and the directory removed on close.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

GPG_TIMEOUT = 60


@dataclass(frozen=True)
class GpgKey:
    name: str
    fingerprint: str  # lowercase hex, as Vault reports it
    public: bytes  # binary export
    public_path: Path  # the binary export, as a file (what `-pgp-keys=` takes)
    armored_path: Path  # the ASCII-armoured export

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public).decode()


class GpgKeyring:
    def __init__(self, home: Path, exports: Path) -> None:
        self.home = home
        self.exports = exports

    @classmethod
    @contextmanager
    def create(cls, exports: Path) -> Iterator[GpgKeyring]:
        gpg = shutil.which("gpg")
        if gpg is None:
            pytest.skip("gpg is not installed (scripts/test installs Debian's gnupg)")
        # Short path: the agent's socket lives in the home directory.
        home = Path(tempfile.mkdtemp(prefix="sr-gpg-"))
        home.chmod(0o700)
        exports.mkdir(parents=True, exist_ok=True)
        ring = cls(home, exports)
        try:
            yield ring
        finally:
            subprocess.run(
                ["gpgconf", "--homedir", str(home), "--kill", "all"],
                capture_output=True,
                timeout=GPG_TIMEOUT,
                check=False,
            )
            shutil.rmtree(home, ignore_errors=True)

    def _gpg(self, *args: str, input: bytes | None = None) -> bytes:
        result = subprocess.run(
            ["gpg", "--homedir", str(self.home), "--batch", "--yes", *args],
            input=input,
            capture_output=True,
            timeout=GPG_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"gpg {' '.join(args)} failed: {result.stderr.decode(errors='replace')}")
        return result.stdout

    def generate(self, name: str, *, kind: str = "rsa", can_encrypt: bool = True) -> GpgKey:
        email = f"{name}@strongroom.test"
        if kind == "rsa":
            spec = ["Key-Type: RSA", "Key-Length: 2048", "Key-Usage: sign"]
            if can_encrypt:
                spec += ["Subkey-Type: RSA", "Subkey-Length: 2048", "Subkey-Usage: encrypt"]
        else:
            spec = ["Key-Type: EDDSA", "Key-Curve: ed25519", "Key-Usage: sign"]
            if can_encrypt:
                spec += ["Subkey-Type: ECDH", "Subkey-Curve: cv25519", "Subkey-Usage: encrypt"]
        spec = ["%no-protection", *spec, f"Name-Real: {name}", f"Name-Email: {email}", "Expire-Date: 0", "%commit"]
        self._gpg("--gen-key", input=("\n".join(spec) + "\n").encode())
        public = self._gpg("--export", email)
        listing = self._gpg("--with-colons", "--fingerprint", email).decode()
        fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
        public_path = self.exports / f"{name}.gpg"
        public_path.write_bytes(public)
        armored_path = self.exports / f"{name}.asc"
        armored_path.write_bytes(self._gpg("--armor", "--export", email))
        return GpgKey(name, fingerprint.lower(), public, public_path, armored_path)

    def decrypt(self, message: bytes) -> bytes:
        return self._gpg("--quiet", "--decrypt", input=message)

    def decrypt_b64(self, message_b64: str) -> str:
        return self.decrypt(base64.b64decode(message_b64)).decode()
