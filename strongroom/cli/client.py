"""A small synchronous client for the Vault-compatible HTTP API, used by the `strongroom` command.

It knows where the server is, which token to send and how to turn a failure into one readable
message; it knows nothing about commands or output formats.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

DEFAULT_ADDRESS = "http://127.0.0.1:8200"
TIMEOUT_SECONDS = 60.0
TOKEN_FILE = "~/.strongroom-token"

_TRUE = {"1", "t", "true", "y", "yes", "on"}
_FALSE = {"", "0", "f", "false", "n", "no", "off"}


class ClientError(Exception):
    """Anything that stops a request from getting a successful answer; `str()` is fit for users."""


class ApiError(ClientError):
    """The server answered with an error status."""

    def __init__(
        self,
        status: int,
        errors: list[str],
        method: str,
        path: str,
        url: str = "",
        raw: str | None = None,
        body: Any = None,
    ) -> None:
        self.status = status
        self.errors = errors
        self.method = method
        self.path = path
        self.url = url or path
        self.raw = raw
        self.body = body  # the parsed JSON answer, if it was JSON (a 404 may still carry data or warnings)
        super().__init__(self._message())

    def _message(self) -> str:
        """The server's errors, then the status and the request, on one line."""
        errors = [_our_name(" ".join(str(error).split())) for error in self.errors if str(error).strip()]
        detail = "; ".join(errors)
        if not detail and self.raw:
            detail = " ".join(self.raw.split())
        return f"{detail or 'no error message'} (Code: {self.status}; {self.method} {self.url})"


def _our_name(message: str) -> str:
    """The server keeps Vault's wording for Vault's clients (`Vault is sealed`); this CLI says Strongroom."""
    return _VAULT_IS.sub(r"Strongroom is \1", message)


_VAULT_IS = re.compile(r"\b[Vv]ault is (sealed|not initialized|already initialized|unsealed)\b")


class ConnectionFailed(ClientError):
    """No HTTP answer at all: refused, unresolvable, TLS failure, timeout."""

    def __init__(self, method: str, url: str, reason: str) -> None:
        self.method = method
        self.url = url
        self.reason = reason
        super().__init__(f'{method.capitalize()} "{url}": {reason}')


class UnexpectedResponse(ClientError):
    """A successful status with a body that is not what the endpoint promises."""


class ConfigurationError(ClientError):
    """The client cannot be set up (bad address, unreadable CA file)."""


def parse_bool(value: str | None, name: str) -> bool:
    """Parse an environment flag the way Go's strconv.ParseBool (Vault's habit) would, a bit more leniently."""
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigurationError(f"invalid boolean value for {name}: {value!r}")


def read_token_file(path: str | os.PathLike[str] = TOKEN_FILE) -> str | None:
    """The token saved by a previous login, like Vault's ~/.vault-token; missing or empty means none."""
    try:
        token = Path(os.path.expanduser(path)).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return token or None


def redact_url(url: str) -> str:
    """Drop credentials (user:password@) from a URL before it goes into a message."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


class Client:
    """Sends requests to `<address>/v1/<path>` with the caller's token; returns parsed JSON."""

    def __init__(
        self,
        address: str | None = None,
        token: str | None = None,
        *,
        ca_cert: str | None = None,
        tls_skip_verify: bool | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        address = address or os.environ.get("STRONGROOM_ADDR") or DEFAULT_ADDRESS
        address = address.strip().rstrip("/")
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(f"invalid address {redact_url(address)!r}: expected http(s)://host[:port]")
        self.address = address

        if token is None:
            token = os.environ.get("STRONGROOM_TOKEN") or read_token_file()
        self._token = token or None

        ca_cert = ca_cert or os.environ.get("STRONGROOM_CACERT") or None
        if tls_skip_verify is None:
            tls_skip_verify = parse_bool(os.environ.get("STRONGROOM_SKIP_VERIFY"), "STRONGROOM_SKIP_VERIFY")
        verify: bool | str = True
        if tls_skip_verify:
            verify = False
        elif ca_cert:
            if not os.path.isfile(ca_cert):
                raise ConfigurationError(f"CA certificate file not found: {ca_cert}")
            verify = ca_cert

        self._http = httpx.Client(
            verify=verify, timeout=timeout, follow_redirects=True, headers={"Accept": "application/json"}
        )

    @property
    def has_token(self) -> bool:
        return self._token is not None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def list(self, path: str) -> Any:
        return self.request("GET", path, params={"list": "true"})

    def put(self, path: str, json: Any = None) -> Any:
        return self.request("PUT", path, json=json)

    def post(self, path: str, json: Any = None) -> Any:
        return self.request("POST", path, json=json)

    def delete(self, path: str, **params: Any) -> Any:
        return self.request("DELETE", path, params=params or None)

    def patch(self, path: str, json: Any = None) -> Any:
        """A JSON merge patch (RFC 7396), as KV v2 takes it."""
        return self.request("PATCH", path, json=json, headers={"Content-Type": "application/merge-patch+json"})

    def url_for(self, path: str) -> str:
        return f"{self.address}/v1/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """One request; the parsed JSON body, None for an empty answer, or ApiError/ConnectionFailed."""
        url = self.url_for(path)
        shown_url = redact_url(url)
        headers = dict(headers or {})
        if self._token:
            headers["X-Vault-Token"] = self._token
        try:
            response = self._http.request(method, url, json=json, params=params, headers=headers)
        except httpx.TimeoutException:
            raise ConnectionFailed(method, shown_url, f"no answer within {self._http.timeout.read:g}s") from None
        except httpx.HTTPError as exc:
            raise ConnectionFailed(method, shown_url, _describe_transport_error(exc)) from None

        if response.is_success:
            if response.status_code == 204 or not response.content.strip():
                return None
            try:
                return response.json()
            except ValueError:
                raise ApiError(
                    response.status_code, ["the server's answer is not JSON"], method, path, shown_url
                ) from None

        errors, raw, body = _error_details(response)
        raise ApiError(response.status_code, errors, method, path, shown_url, raw, body)

    def transfer(self, method: str, path: str, content: bytes | None = None) -> bytes:
        """One request whose body and answer are bytes, not JSON (snapshots); errors as `request`'s."""
        url = self.url_for(path)
        shown_url = redact_url(url)
        headers = {"X-Vault-Token": self._token} if self._token else {}
        try:
            response = self._http.request(method, url, content=content, headers=headers)
        except httpx.TimeoutException:
            raise ConnectionFailed(method, shown_url, f"no answer within {self._http.timeout.read:g}s") from None
        except httpx.HTTPError as exc:
            raise ConnectionFailed(method, shown_url, _describe_transport_error(exc)) from None
        if response.is_success:
            return response.content
        errors, raw, body = _error_details(response)
        raise ApiError(response.status_code, errors, method, path, shown_url, raw, body)


def _error_details(response: httpx.Response) -> tuple[list[str], str | None, Any]:
    """The `errors` list of a Vault-style error body (or the raw text when the body is something else), and the body."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return [], (text[:500] if text else None), None
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        return [str(error) for error in body["errors"]], None, body
    return [], response.text.strip()[:500], body


def _describe_transport_error(exc: httpx.HTTPError) -> str:
    """A one-line reason for a transport failure, without Python's errno decoration."""
    text = str(exc) or type(exc).__name__
    text = re.sub(r"\[Errno -?\d+\]\s*", "", text)
    text = " ".join(text.split())
    lowered = text.lower()
    if "connection refused" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "no such host"
    return text
