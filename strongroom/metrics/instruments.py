"""The counters and histograms every process of a server records into, and where they are kept.

A server with workers is several processes, and a scrape reaches one of them. prometheus_client's
multiprocess mode makes each process write its values to memory-mapped files of its own in one
directory, which any process sums when scraped: nothing travels over the keeper's channels, the
values of a worker that died stay counted, and recording stays in process (buffered_values.py: a
float addition, written to the files once a second). The keeper chooses the directory before it
records anything (`use_directory`) and hands it to the workers it starts in `PROMETHEUS_MULTIPROC_DIR`,
the variable prometheus_client reads. Without it (one process, the tests) the values live in this
process's own registry.

Latencies are in milliseconds, as Vault's metrics are, so that Vault's dashboards read them alike.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, values
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

from strongroom.metrics.buffered_values import BufferedValues

DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
#: milliseconds
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0, 5000.0)
#: requests or entries in one group commit
SIZE_BUCKETS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0)

#: Prometheus name -> the dotted name of Vault's JSON format (sys/metrics without format=prometheus)
DOTTED_NAMES: dict[str, str] = {}


def metric_name(dotted: str) -> str:
    """The Prometheus name of a metric Vault calls `dotted` (vault.core.handle_request); remembered for JSON."""
    name = dotted.replace(".", "_")
    DOTTED_NAMES[name] = dotted
    return name


class Instruments:
    """The instruments of one process. Their names are Vault's where Vault has the metric (`vault_`), and
    `strongroom_` where it does not, so that a `vault_` name always means what it means in Vault."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        def latency(dotted: str, documentation: str, labels: Iterable[str] = ()) -> Histogram:
            return Histogram(metric_name(dotted), documentation, labels, buckets=LATENCY_BUCKETS, registry=registry)

        self.handle_request = latency(
            "vault.core.handle_request",
            "Requests served, by route family, method and status code: time until the answer, in ms",
            ("family", "method", "code"),
        )
        self.barrier_get = latency("vault.barrier.get", "Barrier reads (storage and decryption), in ms")
        self.barrier_put = latency("vault.barrier.put", "Barrier writes (encryption and storage), in ms")
        self.barrier_delete = latency("vault.barrier.delete", "Barrier deletes, in ms")
        self.barrier_list = latency("vault.barrier.list", "Barrier lists, in ms")
        self.storage_get = latency("strongroom.storage.get", "Storage reads that missed the cache, in ms", ("backend",))
        self.storage_list = latency("strongroom.storage.list", "Storage lists, in ms", ("backend",))
        self.storage_commit = latency(
            "strongroom.storage.commit", "Group commits: one transaction and its fsync, in ms", ("backend",)
        )
        self.group_commit_size = Histogram(
            metric_name("strongroom.storage.group_commit_size"),
            "Write requests committed together in one transaction",
            ("backend",),
            buckets=SIZE_BUCKETS,
            registry=registry,
        )
        self.audit_request_failure = Counter(
            metric_name("vault.audit.log_request_failure"),
            "Requests that an enabled audit device failed to record",
            registry=registry,
        )
        self.audit_response_failure = Counter(
            metric_name("vault.audit.log_response_failure"),
            "Responses that an enabled audit device failed to record",
            registry=registry,
        )


@dataclass
class _Process:
    instruments: Instruments | None = None
    registry: CollectorRegistry | None = None
    buffered: BufferedValues | None = None
    #: the process these belong to: a process forked from another one (a test's child) starts without them
    pid: int = field(default_factory=os.getpid)

    def forget_if_forked(self) -> None:
        if self.pid != os.getpid():
            self.instruments, self.registry, self.buffered, self.pid = None, None, None, os.getpid()


_process = _Process()


def instruments() -> Instruments:
    """This process's instruments, made at the first call."""
    _process.forget_if_forked()
    if _process.instruments is None:
        directory = multiprocess_directory()
        if directory is not None:
            _process.buffered = BufferedValues(directory)
            # the value class prometheus_client's metrics are made with; it chose its own at import
            values.ValueClass = _process.buffered.value_class
        else:
            _process.registry = CollectorRegistry(auto_describe=True)
        _process.instruments = Instruments(_process.registry)
    return _process.instruments


def multiprocess_directory() -> str | None:
    """The directory the processes of this server record into, None when this process records alone."""
    return os.environ.get(DIRECTORY_VARIABLE) or None


def use_directory() -> str:
    """Record into a new private directory, shared with every process this one starts from now on; returns
    it (remove it with `remove_directory` at exit). Must come before the first instrument is made."""
    _process.forget_if_forked()
    if _process.instruments is not None:
        raise RuntimeError("metrics: the instruments were made before their directory was chosen")
    directory = tempfile.mkdtemp(prefix="strongroom-metrics-")
    os.chmod(directory, 0o700)
    os.environ[DIRECTORY_VARIABLE] = directory
    return directory


def remove_directory(directory: str) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def recorded() -> list[Metric]:
    """Every counter and histogram recorded so far: by all the server's processes, or by this one."""
    instruments()
    directory = multiprocess_directory()
    if directory is not None:
        assert _process.buffered is not None
        _process.buffered.flush()
        return list(MultiProcessCollector(None, directory).collect())
    assert _process.registry is not None
    return list(_process.registry.collect())
