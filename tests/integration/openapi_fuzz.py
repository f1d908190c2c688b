"""Schemathesis against a real server, from the OpenAPI document the server itself serves.

    with fuzzed_server(directory) as store:
        figures = run_schemathesis(store, max_examples=2, report=directory / "report.json")

The server is the shape a deployment runs (sqlite, a keeper and its workers, a file audit device). The run
uses the root token and leaves out the three operations that would end it early (sealing, stepping down,
revoking its own token). Its checks: no 5xx, and every answer's status, content type and body as the
document declares them. `python -m tests.integration.openapi_fuzz [--max-examples N] [--seed S]` is the
long run (scripts/fuzz).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.integration.strongroom_server import START_TIMEOUT
from tests.integration.unsealed import Unsealed, assert_clean_log, run_unsealed

OPENAPI_PATH = "/v1/sys/internal/specs/openapi"
#: operations that would end the run: the server sealed, or the run's token revoked
EXCLUDED_PATHS = ("/sys/seal", "/sys/step-down", "/auth/token/revoke-self")
#: an engine of every type, so that the document describes (and the run reaches) each one's routes
MOUNTS = {
    "sys/mounts/secret": {"type": "kv", "options": {"version": "2"}},
    "sys/mounts/kv": {"type": "kv", "options": {"version": "1"}},
    "sys/mounts/transit": {"type": "transit"},
    "sys/auth/userpass": {"type": "userpass"},
    "sys/auth/approle": {"type": "approle"},
}
PHASES = ("examples", "coverage", "fuzzing")
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance")


@dataclass(frozen=True)
class FuzzFigures:
    operations: int
    requests: int
    #: answers a check refused (a 5xx, a status, content type or body the document does not declare)
    failures: int
    #: test cases schemathesis itself could not run (CPython 3.11's ast.parse is not thread-safe: with
    #: several workers, hypothesis may fail to describe a strategy)
    errors: int
    returncode: int
    output: str


@contextmanager
def fuzzed_server(directory: Path, start_timeout: float = START_TIMEOUT) -> Iterator[Unsealed]:
    """An initialised, unsealed server on sqlite with its workers and a file audit device; on leaving, its log
    must hold no traceback and no error."""
    audit = f'audit "file" "fuzz" {{\n  options {{\n    file_path = "{directory / "audit.log"}"\n  }}\n}}\n'
    with run_unsealed(directory, extra_config=audit, clean_log=False, start_timeout=start_timeout) as store:
        for path, body in MOUNTS.items():
            store.ok("POST", path, json=body)
        yield store
        assert_clean_log(store.server)


def run_schemathesis(
    store: Unsealed,
    *,
    max_examples: int,
    report: Path,
    phases: tuple[str, ...] = PHASES,
    workers: int = 2,
    seed: int | None = None,
) -> FuzzFigures:
    """One run of every operation of the document: `max_examples` test cases each in the fuzzing phase, and
    the boundary values of every parameter in the coverage phase."""
    address = store.server.address
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        address + OPENAPI_PATH,
        f"--url={address}/v1",
        f"--header=X-Vault-Token: {store.root_token}",
        f"--checks={','.join(CHECKS)}",
        f"--max-examples={max_examples}",
        f"--phases={','.join(phases)}",
        f"--workers={workers}",
        "--generation-database=none",
        "--no-color",
        "--report=json",
        f"--report-json-path={report}",
        *(f"--exclude-path={path}" for path in EXCLUDED_PATHS),
        *([f"--seed={seed}"] if seed is not None else []),
    ]
    ran = subprocess.run(command, capture_output=True, text=True, check=False, cwd=report.parent)
    if not report.exists():
        return FuzzFigures(0, 0, 0, 1, ran.returncode, ran.stdout + ran.stderr)
    figures = json.loads(report.read_text(encoding="utf-8"))
    return FuzzFigures(
        figures["operations"]["tested"],
        figures["test_cases"]["generated"],  # one request each
        figures["test_cases"]["unique_failures"],
        len(figures["errors"]),
        ran.returncode,
        ran.stdout + ran.stderr,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=50)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--start-timeout", type=float, default=120.0, help="seconds the server may take to start")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strongroom-fuzz-") as temporary:
        directory = Path(temporary)
        with fuzzed_server(directory, arguments.start_timeout) as store:
            figures = run_schemathesis(
                store, max_examples=arguments.max_examples, report=directory / "events.ndjson", seed=arguments.seed
            )
        print(figures.output)
    print(
        f"operations: {figures.operations}, requests: {figures.requests}, failures: {figures.failures}, "
        f"errors of schemathesis itself: {figures.errors} (max examples {arguments.max_examples})"
    )
    return 0 if figures.returncode == 0 and figures.failures == 0 and figures.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
