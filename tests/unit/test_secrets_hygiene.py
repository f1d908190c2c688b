"""The secrets-hygiene check (tests/secrets_hygiene.py): it collects the secrets a session uses from its
exchanges with servers, and fails the session when one of them is found in a file the session left."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from tests.secrets_hygiene import SecretRegistry

ROOT = Path(__file__).resolve().parents[2]


def token() -> str:
    return "s." + secrets.token_urlsafe(18)


def test_the_secrets_of_an_exchange_with_a_local_server_are_collected() -> None:
    registry = SecretRegistry()
    root, share_hex, share_b64 = token(), secrets.token_hex(33), "Zm9vYmFyYmF6cXV4cXV1eHF1dXpmb29iYXJiYXo="
    answer = {"keys": [share_hex], "keys_base64": [share_b64], "root_token": root}
    registry.harvest("http://127.0.0.1:8200/v1/sys/init", b"{}", json.dumps(answer).encode())
    login = {"auth": {"client_token": (client := token()), "accessor": "not-a-secret-accessor"}}
    registry.harvest(
        "http://127.0.0.1:8200/v1/auth/userpass/login/ann",
        b'{"password": "correct-horse-battery"}',
        json.dumps(login).encode(),
    )
    write = {"data": {"api_key": "sk-live-0123456789abcdef", "short": "bar"}}
    registry.harvest("http://localhost:8200/v1/secret/data/app", json.dumps(write).encode(), b"")
    registry.harvest("https://example.com/v1/sys/init", b"{}", json.dumps({"root_token": token()}).encode())
    listing = {"data": {"keys": ["policy-of-the-app-team"]}, "keys": ["policy-of-the-app-team"], "auth": None}
    registry.harvest("http://127.0.0.1:8200/v1/sys/policy", b"", json.dumps(listing).encode())
    assert registry.kinds == {
        share_hex.encode(): "unseal share",
        share_b64.rstrip("=").encode(): "unseal share",
        root.encode(): "root token",
        client.encode(): "token",
        b"correct-horse-battery": "password",
        b"sk-live-0123456789abcdef": "KV value",
    }


def test_a_secret_is_found_wherever_a_leak_puts_it_and_never_shown(tmp_path: Path) -> None:
    registry = SecretRegistry()
    root, share = token(), "Zm9vYmFyYmF6cXV4cXV1eHF1dXpmb29iYXJiYXo="
    registry.register(root, "root token")
    registry.register(share, "unseal share")
    (tmp_path / "server.log").write_text(f"2026-01-01 [DEBUG] request: token={root} path=/v1/sys/seal\n")
    (tmp_path / "audit.log").write_text(json.dumps({"request": {"data": {"key": share}}}) + "\n")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "store.db").write_bytes(b"\x00\x01SQLite" + f"/v1/auth/token/lookup/{root}".encode())
    (tmp_path / "clean.log").write_text("hmac-sha256:" + secrets.token_hex(32) + " " + root[:-1] + "!\n")
    (tmp_path / ".vault-token").write_text(root)  # the CLI's token file holds a token by design
    leaks = registry.leaks([tmp_path])
    assert sorted((leak.path.name, leak.kind) for leak in leaks) == [
        ("audit.log", "unseal share"),
        ("server.log", "root token"),
        ("store.db", "root token"),
    ]
    assert all(root not in str(leak) and share.rstrip("=") not in str(leak) for leak in leaks)


def test_a_value_too_short_to_mean_anything_is_not_checked() -> None:
    registry = SecretRegistry()
    registry.register("root")
    registry.register("bar")
    assert registry.kinds == {}


PLANTED = """
import httpx

def init_answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"keys": ["%(share)s"], "root_token": "%(root)s"})

def test_a_server_writes_its_log(tmp_path):
    with httpx.Client(transport=httpx.MockTransport(init_answer), base_url="http://127.0.0.1:8200") as http:
        root = http.put("/v1/sys/init", json={"secret_shares": 1}).json()["root_token"]
    (tmp_path / "strongroom.log").write_text("%(line)s")
"""


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["one process", "xdist workers"])
@pytest.mark.parametrize("leaked", [True, False], ids=["a leak", "no leak"])
def test_a_session_whose_server_leaked_a_token_fails_after_its_tests_pass(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, leaked: bool, workers: tuple[str, ...]
) -> None:
    """With xdist (as scripts/test runs the suite) a worker scans its own files and its controller fails the
    session: a worker's exit status alone would not."""
    share, root = secrets.token_hex(33), token()
    line = f"request served: token={root}" if leaked else "request served: token=hmac-sha256:abc"
    pytester.makepyfile(test_planted=PLANTED % {"share": share, "root": root, "line": line})
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    result = pytester.runpytest_subprocess("-p", "tests.secrets_hygiene", "-p", "no:cacheprovider", *workers)
    result.assert_outcomes(passed=1)
    output = result.stdout.str()
    assert "secrets hygiene: 2 secrets checked" in output, output
    assert root not in output and share not in output
    if leaked:
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.stdout.fnmatch_lines(["*LEAK *strongroom.log at byte 22: a root token (sha256 *"])
    else:
        assert result.ret == pytest.ExitCode.OK
        result.stdout.fnmatch_lines(["secrets hygiene: 2 secrets checked in *: 0 found"])
