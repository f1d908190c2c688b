"""The transit seal: another Vault, OpenBao or Strongroom server's transit engine wraps the root key.

    seal "transit" {
      address         = "https://vault.example.com:8200"
      token           = "..."                 # better: BAO_TOKEN or VAULT_TOKEN in the environment
      key_name        = "autounseal"
      mount_path      = "transit/"            # the default
      disable_renewal = "false"
      tls_ca_cert     = "/etc/strongroom/ca.pem"
      tls_client_cert = "/etc/strongroom/client.pem"
      tls_client_key  = "/etc/strongroom/client-key.pem"
      tls_server_name = "vault.example.com"
      tls_skip_verify = "false"
    }

`encrypt` POSTs the plaintext (base64) to `<mount_path>/encrypt/<key_name>`; the blob is the
`vault:v<N>:...` ciphertext the server answers, as bytes, so the key version travels with it and a
rotated transit key still unwraps older blobs. `decrypt` POSTs the blob to `<mount_path>/decrypt/<key_name>`.
The token needs `update` on both paths (and `create` on encrypt only if the key should be made on
first use). Unless `disable_renewal` is set, a renewable token is renewed in the background, at two
thirds of its TTL, from the first successful call until `close()`.

Options come from the seal block; the environment fills what the block leaves out: BAO_ADDR or
VAULT_ADDR, BAO_TOKEN or VAULT_TOKEN, VAULT_TRANSIT_SEAL_KEY_NAME, VAULT_TRANSIT_SEAL_MOUNT_PATH,
VAULT_TRANSIT_SEAL_DISABLE_RENEWAL, BAO_CACERT, BAO_CLIENT_CERT, BAO_CLIENT_KEY,
BAO_TLS_SERVER_NAME, BAO_SKIP_VERIFY (each BAO_ name also as VAULT_). `namespace` and
`key_id_prefix` are accepted and ignored.

Every failure (unreachable, timed out after 5 s, refused, an unexpected answer) is SealUnavailable
whose message names the address, the mount and the key and carries the server's errors; never the
token, never the plaintext.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
import ssl
import urllib.parse
from collections.abc import Mapping
from typing import Any

import httpx

from strongroom.seals.base import AutoSeal, SealUnavailable

log = logging.getLogger("strongroom.seals.transit")

TIMEOUT_SECONDS = 5.0
#: a failed renewal is tried again after this long (the token may still be valid for a while)
RENEWAL_RETRY_SECONDS = 10.0
MIN_RENEWAL_SLEEP = 1.0

_GO_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}
#: option -> environment variables that fill it when the block leaves it out, first found wins
ENVIRONMENT = {
    "address": ("BAO_ADDR", "VAULT_ADDR"),
    "token": ("BAO_TOKEN", "VAULT_TOKEN"),
    "key_name": ("VAULT_TRANSIT_SEAL_KEY_NAME", "BAO_TRANSIT_SEAL_KEY_NAME"),
    "mount_path": ("VAULT_TRANSIT_SEAL_MOUNT_PATH", "BAO_TRANSIT_SEAL_MOUNT_PATH"),
    "disable_renewal": ("VAULT_TRANSIT_SEAL_DISABLE_RENEWAL", "BAO_TRANSIT_SEAL_DISABLE_RENEWAL"),
    "tls_ca_cert": ("BAO_CACERT", "VAULT_CACERT"),
    "tls_client_cert": ("BAO_CLIENT_CERT", "VAULT_CLIENT_CERT"),
    "tls_client_key": ("BAO_CLIENT_KEY", "VAULT_CLIENT_KEY"),
    "tls_server_name": ("BAO_TLS_SERVER_NAME", "VAULT_TLS_SERVER_NAME"),
    "tls_skip_verify": ("BAO_SKIP_VERIFY", "VAULT_SKIP_VERIFY"),
}
KNOWN_OPTIONS = frozenset(ENVIRONMENT) | {"namespace", "key_id_prefix", "disabled"}


def _boolean(options: Mapping[str, str], name: str) -> bool:
    value = options.get(name, "")
    if value == "":
        return False
    if value not in _GO_BOOLS:
        raise ValueError(f'seal "transit": field "{name}" must be "true" or "false", not {value!r}')
    return _GO_BOOLS[value]


class TransitSeal(AutoSeal):
    type_name = "transit"

    def __init__(
        self,
        address: str,
        token: str,
        key_name: str,
        mount_path: str = "transit/",
        *,
        disable_renewal: bool = False,
        tls_ca_cert: str = "",
        tls_client_cert: str = "",
        tls_client_key: str = "",
        tls_server_name: str = "",
        tls_skip_verify: bool = False,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        parsed = urllib.parse.urlsplit(address)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f'seal "transit": address {address!r} is not an http:// or https:// URL')
        if not key_name:
            raise ValueError('seal "transit": missing required field "key_name"')
        if bool(tls_client_cert) != bool(tls_client_key):
            raise ValueError('seal "transit": tls_client_cert and tls_client_key must be set together')
        self.address = address.rstrip("/")
        self.key_name = key_name
        self.mount_path = mount_path.strip("/") or "transit"
        self.disable_renewal = disable_renewal
        self._token = token
        self._tls = (tls_ca_cert, tls_client_cert, tls_client_key, tls_skip_verify)
        self._server_name = tls_server_name
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._renewal: asyncio.Task[None] | None = None

    def __repr__(self) -> str:  # never the token
        return (
            f"TransitSeal(address={self.address!r}, mount_path={self.mount_path!r}, key_name={self.key_name!r}, "
            f"disable_renewal={self.disable_renewal!r})"
        )

    @classmethod
    def from_options(cls, options: Mapping[str, str], environ: Mapping[str, str] | None = None) -> TransitSeal:
        """The seal of a `seal "transit"` block (options as strings); missing or invalid options raise ValueError."""
        env = os.environ if environ is None else environ
        values = {name: value for name, value in options.items() if value != ""}
        for option, variables in ENVIRONMENT.items():
            if option not in values:
                found = next((env[variable] for variable in variables if env.get(variable)), None)
                if found is not None:
                    values[option] = found
        for required in ("address", "key_name"):
            if not values.get(required):
                raise ValueError(f'seal "transit": missing required field "{required}"')
        if not values.get("token"):
            raise ValueError(
                'seal "transit": missing required field "token" (or BAO_TOKEN / VAULT_TOKEN in the environment)'
            )
        return cls(
            values["address"],
            values["token"],
            values["key_name"],
            values.get("mount_path", "transit/"),
            disable_renewal=_boolean(values, "disable_renewal"),
            tls_ca_cert=values.get("tls_ca_cert", ""),
            tls_client_cert=values.get("tls_client_cert", ""),
            tls_client_key=values.get("tls_client_key", ""),
            tls_server_name=values.get("tls_server_name", ""),
            tls_skip_verify=_boolean(values, "tls_skip_verify"),
        )

    # AutoSeal -----------------------------------------------------------------------------------

    async def encrypt(self, plaintext: bytes) -> bytes:
        answer = await self._call("encrypt", {"plaintext": base64.b64encode(plaintext).decode("ascii")})
        ciphertext = (answer.get("data") or {}).get("ciphertext")
        if not isinstance(ciphertext, str) or not ciphertext.startswith("vault:v"):
            raise SealUnavailable(f"{self._where('encrypt')}: the answer carries no ciphertext")
        return ciphertext.encode("ascii")

    async def decrypt(self, blob: bytes) -> bytes:
        try:
            ciphertext = blob.decode("ascii")
        except UnicodeDecodeError:
            ciphertext = ""
        if not ciphertext.startswith("vault:v"):
            raise SealUnavailable(f"{self._where('decrypt')}: the blob is not a transit ciphertext (vault:v<N>:...)")
        answer = await self._call("decrypt", {"ciphertext": ciphertext})
        encoded = (answer.get("data") or {}).get("plaintext")
        if not isinstance(encoded, str):
            raise SealUnavailable(f"{self._where('decrypt')}: the answer carries no plaintext")
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise SealUnavailable(f"{self._where('decrypt')}: the answer's plaintext is not base64") from None

    async def close(self) -> None:
        renewal, self._renewal = self._renewal, None
        if renewal is not None and not renewal.done():
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # it is being stopped
                await renewal
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(RuntimeError):  # its event loop is gone
                await client.aclose()

    # HTTP ---------------------------------------------------------------------------------------

    def _where(self, operation: str) -> str:
        return f'transit seal: {operation} with key "{self.key_name}" at {self.address}/v1/{self.mount_path}/'

    def _scrub(self, text: str) -> str:
        """Defence in depth: a message is never expected to hold the token, but if it ever does it is cut out
        (a token too short to be mistaken for words, such as a dev server's "root", is left alone)."""
        return text.replace(self._token, "<token>") if len(self._token) >= 8 else text

    def _ssl_context(self) -> ssl.SSLContext | bool:
        ca_cert, client_cert, client_key, skip_verify = self._tls
        if not self.address.startswith("https://"):
            return True
        try:
            context = ssl.create_default_context(cafile=ca_cert or None)
            if skip_verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if client_cert:
                context.load_cert_chain(client_cert, client_key)
        except (OSError, ssl.SSLError) as error:
            raise SealUnavailable(f"transit seal: cannot load the TLS files for {self.address}: {error}") from None
        return context

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = httpx.AsyncClient(
                base_url=self.address + "/v1/",
                timeout=httpx.Timeout(self._timeout),
                verify=self._ssl_context(),
                trust_env=False,  # no proxy or CA settings from the environment: only what the block says
                follow_redirects=False,
            )
            self._client_loop = loop
        return self._client

    async def _request(self, method: str, path: str, body: dict[str, Any] | None, what: str) -> dict[str, Any]:
        """The JSON answer of a 2xx, else SealUnavailable naming `what` and the server's errors."""
        extensions = {"sni_hostname": self._server_name} if self._server_name else None
        try:
            response = await self._http().request(
                method,
                path,
                json=body,
                headers={"X-Vault-Token": self._token, "X-Vault-Request": "true"},
                extensions=extensions,
            )
        except httpx.TimeoutException:
            raise SealUnavailable(f"{what}: no answer within {self._timeout:g} s") from None
        except httpx.HTTPError as error:
            raise SealUnavailable(
                f"{what}: cannot reach the server: {self._scrub(str(error) or type(error).__name__)}"
            ) from None
        if not 200 <= response.status_code < 300:
            raise SealUnavailable(f"{what}: the server answered {response.status_code}{self._errors(response)}")
        if response.status_code == 204 or not response.content:
            return {}
        try:
            answer = response.json()
        except ValueError:
            raise SealUnavailable(f"{what}: the server's answer is not JSON") from None
        if not isinstance(answer, dict):
            raise SealUnavailable(f"{what}: the server's answer is not a JSON object")
        return answer

    def _errors(self, response: httpx.Response) -> str:
        try:
            errors = response.json().get("errors")
        except (ValueError, AttributeError):
            errors = None
        if isinstance(errors, list) and errors:
            return ": " + self._scrub("; ".join(str(error) for error in errors))[:1000]
        return ""

    async def _call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        key = urllib.parse.quote(self.key_name, safe="")
        answer = await self._request("POST", f"{self.mount_path}/{operation}/{key}", body, self._where(operation))
        self._start_renewal()
        return answer

    # token renewal ------------------------------------------------------------------------------

    def _start_renewal(self) -> None:
        if self.disable_renewal or self._renewal is not None:
            return
        self._renewal = asyncio.get_running_loop().create_task(self._renew(), name="transit-seal-token-renewal")

    async def _renew(self) -> None:
        """Renew the token at two thirds of its TTL for as long as it is renewable; stop when it is not."""
        where = f"transit seal: token renewal at {self.address}"
        try:
            lookup = await self._request("GET", "auth/token/lookup-self", None, where)
        except SealUnavailable as error:
            log.warning("cannot look up the transit seal's token; it will not be renewed", extra={"error": str(error)})
            return
        data = lookup.get("data") or {}
        ttl = int(data.get("ttl") or 0)
        if not data.get("renewable") or ttl <= 0:
            return  # a root or non-renewable token: nothing to do
        while True:
            await asyncio.sleep(max(ttl * 2 / 3, MIN_RENEWAL_SLEEP))
            try:
                answer = await self._request("POST", "auth/token/renew-self", {}, where)
            except SealUnavailable as error:
                log.warning("transit seal token renewal failed; retrying", extra={"error": str(error)})
                ttl = int(RENEWAL_RETRY_SECONDS * 3 / 2)
                continue
            auth = answer.get("auth") or {}
            ttl = int(auth.get("lease_duration") or 0)
            if not auth.get("renewable", True) or ttl <= 0:
                return


def from_options(options: Mapping[str, str], environ: Mapping[str, str] | None = None) -> TransitSeal:
    """`TransitSeal.from_options`, beside `strongroom.seals.static.from_options`."""
    return TransitSeal.from_options(options, environ)
