"""`GET /v1/sys/metrics`: the server's metrics, as Vault serves them.

JSON (Vault's in-memory format: Gauges, Counters, Samples) by default, Prometheus text with
`?format=prometheus`. A token with `read` on `sys/metrics` is needed unless the listener says
`telemetry { unauthenticated_metrics_access = true }`; then the metrics are served while sealed too.

Audited as Vault audits them: a request entry, and a response entry with the answer as Vault's raw-body fields
(`http_raw_body`, HMAC'd); metrics served without a token are not audited (Vault's are not either).
"""

from __future__ import annotations

from dataclasses import dataclass

from strongroom.core.core import Core
from strongroom.core.system_requests import raw_body
from strongroom.http.messages import HttpRequest, encode_json
from strongroom.http.types import Send
from strongroom.logical.errors import BadRequest, UnsupportedOperation
from strongroom.logical.request import Operation, Request
from strongroom.metrics import PROMETHEUS_CONTENT_TYPE, NodeState, TelemetryOptions, prometheus_text, vault_json

METRICS_PATH = "sys/metrics"


@dataclass(frozen=True)
class MetricsEndpoint:
    options: TelemetryOptions
    unauthenticated: bool = False

    async def __call__(self, core: Core, request: HttpRequest, send: Send) -> None:
        if request.method not in ("GET", "HEAD"):
            raise UnsupportedOperation()
        answer_format = request.query.get("format", "")
        if self.unauthenticated:  # as Vault's handler of unauthenticated metrics: outside the audited requests
            content_type, body = await self._answer(core, answer_format)
        else:
            logical = Request(
                Operation.READ,
                METRICS_PATH,
                data=dict(request.query),
                token=request.token(),
                client_address=request.client_address,
            )
            async with core.system_requests.audited(logical) as audited:
                content_type, body = await self._answer(core, answer_format)
                audited.response = raw_body(content_type, body)
        headers = [
            (b"content-type", content_type.encode()),
            (b"cache-control", b"no-store"),
            (b"content-length", b"%d" % len(body)),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if request.method == "HEAD" else body})

    async def _answer(self, core: Core, answer_format: str) -> tuple[str, bytes]:
        """The content type and body of the metrics in `answer_format`."""
        if answer_format not in ("", "json", "prometheus"):
            raise BadRequest(f'unknown metrics format "{answer_format}": use "prometheus" or leave it out for JSON')
        state = await node_state(core)
        if answer_format != "prometheus":
            return "application/json", encode_json(vault_json(state, self.options))
        if self.options.prometheus_retention_time <= 0:
            raise BadRequest("prometheus is not enabled: set telemetry { prometheus_retention_time } above 0")
        return PROMETHEUS_CONTENT_TYPE, prometheus_text(state, self.options)


async def node_state(core: Core) -> NodeState:
    status = core.seal_status()
    role, _ = core.health()  # uninitialized, sealed, standby or active
    unsealed = role in ("active", "standby")
    return NodeState(
        unsealed=unsealed,
        active=role == "active",
        standby=role == "standby",
        unseal_progress=int(status["progress"]),
        unseal_threshold=int(status["t"]),
        token_count=await core.token_count() if unsealed else None,
    )
