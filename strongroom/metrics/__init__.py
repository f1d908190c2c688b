"""Metrics: what `sys/metrics` reports, built on prometheus_client.

    instruments.py   the counters and histograms each process records into (`instruments()`), and the
                     directory the processes of a server share them through (`use_directory`)
    exposition.py    a scrape: those plus the node's state gauges, as Prometheus text or Vault's JSON

The lowest layer: storage, the barrier, the core and the HTTP layer all record into it.
"""

from strongroom.metrics.exposition import (
    PROMETHEUS_CONTENT_TYPE,
    NodeState,
    TelemetryOptions,
    prometheus_text,
    vault_json,
)
from strongroom.metrics.instruments import (
    Instruments,
    instruments,
    multiprocess_directory,
    remove_directory,
    use_directory,
)

__all__ = [
    "PROMETHEUS_CONTENT_TYPE",
    "Instruments",
    "NodeState",
    "TelemetryOptions",
    "instruments",
    "multiprocess_directory",
    "prometheus_text",
    "remove_directory",
    "use_directory",
    "vault_json",
]
