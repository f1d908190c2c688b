"""The one way transit's endpoints work through items: a `batch_input`, or a single request as a batch of one.

Each item gets a result dict that holds either the operation's output or its `error`. `run_items` applies the
operation to every item that has no error yet: a BadRequest it raises is the caller's mistake, any other
StrongroomError an internal failure (rewrap stops at the first one, as Vault does). `answer_items` then makes
the answer: a single request's error is raised, a batch's errors stay in its items. encrypt and decrypt
answer a batch with a failed item as Vault does (`batch_outcome`): the whole body with status 400 (500 for an
internal failure, or the caller's partial_failure_response_code when some items succeeded), which is
`BatchFailure`; rewrap, hmac, sign and verify answer 200.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from strongroom.logical.errors import BadRequest, ErrorWithResponse, StrongroomError
from strongroom.logical.fields import FieldType
from strongroom.logical.go import go_type_name
from strongroom.logical.request import Response

BATCH = "batch_input"
Item = TypeVar("Item")


class BatchFailure(ErrorWithResponse):
    """Some items of a batch failed: Vault sends the whole response (every item, with its `error`) with
    this status."""

    def __init__(self, response: Response, status: int, errors: list[str]) -> None:
        super().__init__(response, *dict.fromkeys(errors))
        self.status = status


@dataclass
class Tally:
    """What became of a batch's items; the status of encrypt's and decrypt's answers depends on it."""

    successes: bool = False
    user_errors: bool = False
    internal_errors: bool = False


def decodable(fields: Mapping[str, FieldType | str]) -> dict[str, FieldType]:
    """The decodable part of a schema (batch_input, marked "", is read raw, as Vault's handlers do)."""
    return {name: kind for name, kind in fields.items() if isinstance(kind, FieldType)}


def parse_failure(errors: list[str]) -> BadRequest:
    return BadRequest("failed to parse batch input: " + "\n".join(errors))


def not_a_list(raw: Any) -> BadRequest:
    return parse_failure([f"source data must be an array or slice, got {go_type_name(raw)}"])


def run_items(
    items: Sequence[Item],
    results: list[dict[str, Any]],
    operation: Callable[[int, Item], Mapping[str, Any]],
    *,
    stop_at_internal_errors: bool = False,
) -> Tally:
    """Apply `operation` to each item whose result holds no error yet, and merge what it gives into the result."""
    tally = Tally()
    for index, item in enumerate(items):
        result = results[index]
        if "error" in result:
            tally.user_errors = True
            continue
        try:
            result.update(operation(index, item))
        except BadRequest as error:
            result["error"] = str(error)
            tally.user_errors = True
        except StrongroomError as error:
            if stop_at_internal_errors:
                raise
            result["error"] = str(error)
            tally.internal_errors = True
        else:
            tally.successes = True
    return tally


def answer_items(
    batched: bool,
    results: list[dict[str, Any]],
    references: Sequence[str],
    tally: Tally,
    *,
    single: Callable[[dict[str, Any]], dict[str, Any]],
    batch_item: Callable[[dict[str, Any], str], dict[str, Any]],
) -> dict[str, Any]:
    """The answer's data: `single(result)` of a single request (whose error is raised), or `batch_results`."""
    if not batched:
        if "error" in results[0]:
            raise (StrongroomError if tally.internal_errors else BadRequest)(results[0]["error"])
        return single(results[0])
    pairs = zip(results, references, strict=True)
    return {"batch_results": [batch_item(result, reference) for result, reference in pairs]}


def error_of(result: Mapping[str, Any]) -> dict[str, str]:
    return {"error": result["error"]} if "error" in result else {}


def batch_outcome(
    fields: Mapping[str, Any], response: Response, tally: Tally, results: list[dict[str, Any]]
) -> Response:
    """Vault's batchRequestResponse: 400 (500) with the whole body when an item failed."""
    if not (tally.user_errors or tally.internal_errors):
        return response
    status = 400 if tally.user_errors else 500
    code = fields.get("partial_failure_response_code")
    if code is not None and tally.successes:
        if 1 <= code <= 599:
            status = code
        else:
            response.warnings = [
                *(response.warnings or []),
                f"invalid HTTP response code override from partial_failure_response_code, reverting to {status}",
            ]
    if status == 200:
        return response
    raise BatchFailure(response, status, [result["error"] for result in results if "error" in result])
