"""prometheus_client's multiprocess values, buffered: an increment adds to a Python float, a thread writes the
changed values to the process's memory-mapped files once a second.

prometheus_client's own multiprocess value takes a lock, checks the pid and stores into the mapped file at
every increment: about three times the cost of an in-process value, twice per histogram observation, several
observations per request. Here an increment is one float addition. Each value is changed by one thread only
(the event loop's, or a storage writer thread's for the commit histograms) and a float is read whole, so the
flusher needs no lock to read; it holds one while it writes the files, as does the making of a value (which
may grow a file). What another process shows of this one's values may be up to `FLUSH_INTERVAL` old; a scrape
flushes the scraping process first, and a process flushes at exit.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

from prometheus_client.mmap_dict import MmapedDict, mmap_key

FLUSH_INTERVAL = 1.0


class BufferedValues:
    """The values of this process and the files they are written to (`<type>_<pid>.db`, prometheus_client's names)."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._files: dict[str, MmapedDict] = {}
        self._values: list[Any] = []
        self._lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._stopped = threading.Event()
        self.value_class = self._make_value_class()
        atexit.register(self.flush)

    def flush(self) -> None:
        """Write every value changed since the last flush."""
        with self._lock:
            for value in list(self._values):
                current = value.current
                if current != value.written:
                    value.file.write_value(value.key, current, 0.0)
                    value.written = current

    def stored(self, prefix: str, key: str) -> tuple[MmapedDict, float]:
        """The file of the values of type `prefix`, and the value stored there at `key` (0 when new)."""
        with self._lock:
            file = self._files.get(prefix)
            if file is None:
                path = os.path.join(self.directory, f"{prefix}_{os.getpid()}.db")
                file = self._files[prefix] = MmapedDict(path)
            value, _ = file.read_value(key)
            return file, value

    def track(self, value: Any) -> None:
        """Flush `value` from now on."""
        with self._lock:
            self._values.append(value)
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_every_interval, name="metrics-flush", daemon=True)
                self._flusher.start()

    def _flush_every_interval(self) -> None:
        while not self._stopped.wait(FLUSH_INTERVAL):
            self.flush()

    def _make_value_class(self) -> type:
        values = self

        class BufferedValue:
            """A value as prometheus_client's metrics use one (`values.ValueClass`)."""

            _multiprocess = True
            __slots__ = ("current", "written", "file", "key")

            def __init__(
                self,
                typ: str,
                metric_name: str,
                name: str,
                labelnames: Any,
                labelvalues: Any,
                help_text: str,
                multiprocess_mode: str = "",
                **kwargs: Any,
            ) -> None:
                prefix = f"{typ}_{multiprocess_mode}" if typ == "gauge" else typ
                self.key = mmap_key(metric_name, name, labelnames, labelvalues, help_text)
                self.file, self.current = values.stored(prefix, self.key)
                self.written = self.current
                values.track(self)

            def inc(self, amount: float) -> None:
                self.current += amount

            def set(self, value: float, timestamp: float | None = None) -> None:
                self.current = value

            def set_exemplar(self, exemplar: Any) -> None:
                return None

            def get(self) -> float:
                return float(self.current)

            def get_exemplar(self) -> None:
                return None

        return BufferedValue
