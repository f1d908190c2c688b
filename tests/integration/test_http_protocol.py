"""The HTTP protocol on the wire: the LIST method (hvac and other Vault clients send it, and the fast parser must
take it, also pipelined behind another request), a request head bounded in size (431) and in time (408), and a
whole request bounded in time (408)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.strongroom_server import StrongroomServer, run_strongroom

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StrongroomServer, str]]:
    directory = Path(tmp_path_factory.mktemp("protocol"))
    listener = '  http_read_header_timeout = "1s"\n  http_read_timeout = "2s"\n'
    with run_strongroom(directory, listener_config=listener) as running:
        http = httpx.Client(base_url=running.address, trust_env=False)
        init = http.put("/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1}).json()
        http.put("/v1/sys/unseal", json={"key": init["keys"][0]})
        token = init["root_token"]
        headers = {"X-Vault-Token": token}
        for name in ("alpha", "beta"):
            assert (
                http.put(
                    f"/v1/sys/policies/acl/{name}", headers=headers, json={"policy": 'path "x" {capabilities=["read"]}'}
                ).status_code
                == 204
            )
        yield running, token


def exchange(
    server: StrongroomServer, *chunks: bytes, answers: int = 1, pause: float = 0.05
) -> list[tuple[int, bytes]]:
    """Send `chunks` on one connection (pausing between them) and read until `answers` responses are complete or the
    server closes. The socket is never half-closed: a server may drop a request it has not answered when the client
    shuts its side (Go's server does too), and that would race with the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        for chunk in chunks:
            connection.sendall(chunk)
            time.sleep(pause)
        received = b""
        responses = complete_responses(received)
        while len(responses) < answers and (data := connection.recv(65536)):
            received += data
            responses = complete_responses(received)
    return responses


def complete_responses(received: bytes) -> list[tuple[int, bytes]]:
    responses = []
    while b"\r\n\r\n" in received:
        head, _, rest = received.partition(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0
        )
        if len(rest) < length:
            break
        responses.append((int(head.split(b" ")[1]), rest[:length]))
        received = rest[length:]
    return responses


def request(method: str, path: str, token: str) -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: x\r\nX-Vault-Token: {token}\r\n\r\n".encode()


def test_list_is_served_as_list(server: tuple[StrongroomServer, str]) -> None:
    running, token = server
    [(status, body)] = exchange(running, request("LIST", "/v1/sys/policies/acl", token))
    assert status == 200
    assert {"alpha", "beta", "default"} <= set(json.loads(body)["data"]["keys"])


def test_list_split_across_reads_and_followed_by_other_requests(server: tuple[StrongroomServer, str]) -> None:
    running, token = server
    first = request("LIST", "/v1/sys/policies/acl", token)
    answers = exchange(
        running,
        first[:2],
        first[2:],
        request("GET", "/v1/sys/policies/acl/alpha", token),
        request("LIST", "/v1/sys/policies/acl", token),
        answers=3,
    )
    assert [status for status, _ in answers] == [200, 200, 200]
    assert json.loads(answers[1][1])["data"]["name"] == "alpha"
    assert json.loads(answers[0][1])["data"]["keys"] == json.loads(answers[2][1])["data"]["keys"]


def test_a_list_pipelined_behind_another_request_in_one_write_answers_both(
    server: tuple[StrongroomServer, str],
) -> None:
    running, token = server
    one_write = request("GET", "/v1/sys/policies/acl/alpha", token) + request("LIST", "/v1/sys/policies/acl", token)
    answers = exchange(running, one_write, answers=2)
    assert [status for status, _ in answers] == [200, 200]
    assert json.loads(answers[0][1])["data"]["name"] == "alpha"
    assert {"alpha", "beta", "default"} <= set(json.loads(answers[1][1])["data"]["keys"])


def test_a_get_still_reads_and_unknown_methods_are_refused(server: tuple[StrongroomServer, str]) -> None:
    running, token = server
    [(status, body)] = exchange(running, request("GET", "/v1/sys/policies/acl/beta", token))
    assert status == 200 and json.loads(body)["data"]["name"] == "beta"
    [(status, _)] = exchange(running, request("LISTEN", "/v1/sys/policies/acl", token))
    assert status == 400
    [(status, _)] = exchange(running, request("BREW", "/v1/sys/policies/acl", token))
    assert status == 400


def test_x_forwarded_for_does_not_change_the_client_address(server: tuple[StrongroomServer, str]) -> None:
    running, token = server
    http = httpx.Client(base_url=running.address, trust_env=False)
    role = http.post(
        "/v1/auth/token/roles/far",
        headers={"X-Vault-Token": token},
        json={"token_bound_cidrs": ["10.0.0.0/8"], "allowed_policies": ["default"]},
    )
    assert role.status_code == 204, role.text
    bound = http.post("/v1/auth/token/create/far", headers={"X-Vault-Token": token}).json()["auth"]["client_token"]
    spoofed = http.get("/v1/auth/token/lookup-self", headers={"X-Vault-Token": bound, "X-Forwarded-For": "10.1.2.3"})
    assert spoofed.status_code == 403, spoofed.text


def answer_and_close(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while data := connection.recv(65536):
        received += data
    return received


def test_a_header_that_never_ends_gets_431_and_serving_goes_on(server: tuple[StrongroomServer, str]) -> None:
    running, token = server
    refused = False
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as connection:
        connection.sendall(b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        try:
            for _ in range(4096):  # 64 MiB: the socket buffers hold a few MiB; the server refuses after 64 KiB
                connection.sendall(b"a" * 16384)
        except (BrokenPipeError, ConnectionResetError):
            refused = True
        try:
            received = answer_and_close(connection)
        except ConnectionResetError:  # the server closed with unread bytes pending: the answer may be lost
            received = b""
    assert refused
    assert received == b"" or received.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    with httpx.Client(base_url=running.address, trust_env=False) as http:
        assert http.get("/v1/sys/policies/acl/alpha", headers={"X-Vault-Token": token}).status_code == 200


def test_a_head_of_64_kib_in_one_write_gets_431(server: tuple[StrongroomServer, str]) -> None:
    running, _ = server
    head = b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as connection:
        connection.sendall(head)
        received = answer_and_close(connection)
    status, _, rest = received.partition(b"\r\n")
    assert status == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert json.loads(rest.partition(b"\r\n\r\n")[2]) == {
        "errors": ["request header fields too large: the limit is 65536 bytes"]
    }


def test_a_head_left_unfinished_gets_408_after_the_header_read_timeout(server: tuple[StrongroomServer, str]) -> None:
    running, _ = server
    with socket.create_connection(("127.0.0.1", running.port), timeout=30) as connection:
        connection.sendall(b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n")
        received = answer_and_close(connection)
    assert received.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"the request headers were not complete within 1s" in received


def test_a_body_left_unfinished_gets_408_after_the_read_timeout(server: tuple[StrongroomServer, str]) -> None:
    running, token = server
    with socket.create_connection(("127.0.0.1", running.port), timeout=30) as connection:
        connection.sendall(
            b"PUT /v1/sys/policies/acl/slow HTTP/1.1\r\nHost: x\r\nX-Vault-Token: %s\r\nContent-Length: 100\r\n\r\n{"
            % token.encode()
        )
        received = answer_and_close(connection)
    assert received.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"the request was not read whole within 2s" in received
