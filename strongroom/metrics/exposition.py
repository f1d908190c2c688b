"""A scrape: the recorded instruments plus the gauges of the node's state, as Prometheus text or Vault's JSON.

The state (sealed, active, unseal progress, tokens) is read from the core when the scrape is served rather
than kept in gauges: it is the node's, not one process's, and a process that did not change it would
otherwise report a stale value.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from strongroom.metrics.instruments import DOTTED_NAMES, metric_name, recorded

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class NodeState:
    """What the node's gauges say at the time of a scrape."""

    unsealed: bool
    active: bool
    standby: bool
    unseal_progress: int
    unseal_threshold: int
    #: None while sealed (the token store cannot be read)
    token_count: int | None


@dataclass(frozen=True)
class TelemetryOptions:
    """The `telemetry` stanza's options that shape a scrape."""

    #: Vault's: 0 turns the Prometheus format off (400)
    prometheus_retention_time: int = 24 * 3600
    #: Vault's: false puts the host name into the name of every gauge, as Vault does
    disable_hostname: bool = False


#: Vault's dotted names
_GAUGES = {
    "unsealed": "vault.core.unsealed",
    "active": "vault.core.active",
    "standby": "vault.core.standby",
    "progress": "strongroom.core.unseal_progress",
    "threshold": "strongroom.core.unseal_threshold",
    "tokens": "vault.token.count",
}


def node_gauges(state: NodeState, options: TelemetryOptions) -> list[Metric]:
    host = "" if options.disable_hostname else _host_part()
    values: list[tuple[str, str, float]] = [
        ("unsealed", "1 when the node is unsealed", float(state.unsealed)),
        ("active", "1 when the node is unsealed and active (every unsealed node without HA)", float(state.active)),
        ("standby", "1 when the node is an unsealed HA standby", float(state.standby)),
        ("progress", "Unseal (or recovery) shares entered towards the threshold", float(state.unseal_progress)),
        ("threshold", "Unseal (or recovery) shares needed", float(state.unseal_threshold)),
    ]
    if state.token_count is not None:
        values.append(("tokens", "Tokens in the token store", float(state.token_count)))
    gauges: list[Metric] = []
    for key, documentation, value in values:
        dotted = _GAUGES[key]
        if host:  # as go-metrics' EnableHostname does: after the service name
            service, _, rest = dotted.partition(".")
            dotted = f"{service}.{host}.{rest}"
        gauges.append(GaugeMetricFamily(metric_name(dotted), documentation, value=value))
    return gauges


def prometheus_text(state: NodeState, options: TelemetryOptions) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed([*node_gauges(state, options), *recorded()]))
    return generate_latest(registry)


def vault_json(state: NodeState, options: TelemetryOptions) -> dict[str, Any]:
    """Vault's in-memory sink format. Vault's values cover its last 10 s interval; these, the server's life."""
    gauges: list[dict[str, Any]] = []
    counters: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    for family in [*node_gauges(state, options), *recorded()]:
        name = DOTTED_NAMES.get(family.name, family.name)
        if family.type == "gauge":
            gauges.extend({"Name": name, "Value": s.value, "Labels": s.labels} for s in family.samples)
        elif family.type == "counter":
            counters.extend(
                _aggregate(name, s.labels, count=s.value, total=s.value)
                for s in family.samples
                if s.name.endswith("_total")
            )
        elif family.type == "histogram":
            samples.extend(_histograms(name, family.samples))
    return {
        "Timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC"),
        "Gauges": gauges,
        "Points": [],
        "Counters": counters,
        "Samples": samples,
    }


def _histograms(name: str, samples: Iterable[Any]) -> list[dict[str, Any]]:
    counts: dict[tuple[tuple[str, str], ...], float] = {}
    sums: dict[tuple[tuple[str, str], ...], float] = {}
    for sample in samples:
        key = tuple(sorted(sample.labels.items()))
        if sample.name.endswith("_count"):
            counts[key] = sample.value
        elif sample.name.endswith("_sum"):
            sums[key] = sample.value
    return [_aggregate(name, dict(key), count=count, total=sums.get(key, 0.0)) for key, count in counts.items()]


def _aggregate(name: str, labels: dict[str, str], *, count: float, total: float) -> dict[str, Any]:
    return {
        "Name": name,
        "Count": int(count),
        "Sum": total,
        "Mean": total / count if count else 0.0,
        "Labels": labels,
    }


def _host_part() -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", socket.gethostname().split(".")[0]) or "localhost"


class _Fixed(Collector):
    """A collector of metrics gathered already."""

    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self.metrics
