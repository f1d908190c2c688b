"""Schemathesis against a real server (keeper and workers on sqlite, a file audit device), from the OpenAPI
document the server serves: a short run, two test cases per operation in the fuzzing phase, one at a time. The long run,
with the coverage phase and 50 cases per operation, is `scripts/fuzz`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.openapi_fuzz import fuzzed_server, run_schemathesis
from tests.integration.unsealed import Unsealed

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Unsealed]:
    with fuzzed_server(tmp_path_factory.mktemp("fuzzed")) as store:
        yield store


def test_the_document_describes_the_mounts_of_the_running_server(fuzzed: Unsealed) -> None:
    paths = fuzzed.ok("GET", "sys/internal/specs/openapi").json()["paths"]
    assert {"/secret/data/{path}", "/kv/{path}", "/transit/encrypt/{name}", "/auth/approle/login"} <= set(paths)


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_document(
    fuzzed: Unsealed, tmp_path_factory: pytest.TempPathFactory
) -> None:
    report = tmp_path_factory.mktemp("schemathesis") / "report.json"
    figures = run_schemathesis(fuzzed, max_examples=2, report=report, phases=("fuzzing",), workers=1)
    assert figures.returncode == 0 and figures.failures == figures.errors == 0, figures.output[-20000:]
    assert figures.operations > 150 and figures.requests >= figures.operations, figures.output[-2000:]
