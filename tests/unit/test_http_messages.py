"""The request and answer helpers of the HTTP layer: what the handlers read, what clients receive."""

from __future__ import annotations

import json
import uuid
from typing import Any

from strongroom.http.envelope import envelope, request_id
from strongroom.http.messages import HttpRequest, encode_json
from strongroom.logical.request import Response


async def _no_body() -> dict[str, Any]:
    return {"type": "http.disconnect"}


def _request(headers: list[tuple[bytes, bytes]], query_string: bytes = b"") -> HttpRequest:
    scope = {
        "type": "http",
        "method": "get",
        "path": "/v1/secret/data/x",
        "headers": headers,
        "query_string": query_string,
        "client": ("10.0.0.7", 40000),
    }
    return HttpRequest.from_scope(scope, _no_body)


def test_request_ids_are_distinct_random_uuids() -> None:
    ids = [request_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(value)
        assert str(parsed) == value
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    # 122 random bits: every hex position that is not fixed by the format varies
    for position in (0, 9, 15, 20, 35):
        assert len({value[position] for value in ids}) > 8
    assert {value[14] for value in ids} == {"4"}
    assert {value[19] for value in ids} == set("89ab")


def test_headers_are_lower_cased_and_the_last_of_a_repeated_header_wins() -> None:
    request = _request([(b"Host", b"x"), (b"X-Vault-Token", b"s.first"), (b"x-vault-token", b"s.second")])
    assert request.method == "GET" and request.client_address == "10.0.0.7"
    assert request.headers == {"host": "x", "x-vault-token": "s.second"}
    assert request.token() == "s.second"


def test_header_values_are_latin_1() -> None:
    request = _request([(b"x-vault-wrap-ttl", "5m\xe9".encode("latin-1"))])
    assert request.headers["x-vault-wrap-ttl"] == "5m\xe9"


def test_query_keeps_blank_values_and_an_absent_query_is_empty() -> None:
    assert _request([], b"list=true&version=&a=1&a=2").query == {"list": "true", "version": "", "a": "2"}
    assert _request([]).query == {}
    assert _request([], b"cas=%41b+c").query == {"cas": "Ab c"}


def test_a_request_built_from_decoded_parts_serves_them() -> None:
    request = HttpRequest(
        "PUT", "/secrets/v1/secret/default/a", {"list": "1"}, {"authorization": "token=t"}, "", _no_body
    )
    assert request.query == {"list": "1"}
    assert request.token() == "t"


def test_the_token_never_appears_in_a_request_repr() -> None:
    assert "s.secret" not in repr(_request([(b"x-vault-token", b"s.secret")]))


def test_answers_are_compact_json_with_a_newline() -> None:
    document = {"data": {"k": "v\u00e9\u2603", "n": [1, 2.5, None, True]}, "warnings": None}
    assert encode_json(document) == (json.dumps(document, separators=(",", ":")) + "\n").encode()


def test_the_envelope_follows_the_fields_the_endpoint_repeats_at_the_top_level() -> None:
    plain = envelope(Response(data={"a": 1}))
    assert list(plain) == [
        "request_id",
        "lease_id",
        "renewable",
        "lease_duration",
        "data",
        "wrap_info",
        "warnings",
        "auth",
    ]
    assert plain["data"] == {"a": 1} and uuid.UUID(plain["request_id"]).version == 4
    repeated = envelope(Response(data={"term": 2}, top_level={"term": 2, "data": "overwritten"}))
    assert list(repeated)[:2] == ["term", "data"]
    assert repeated["data"] == {"term": 2} and repeated["term"] == 2
