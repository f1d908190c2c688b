"""How a benchmark run ends: 0 when it finished, else one line `bench: FAILED: ...` and a non-zero status.

SIGTERM and SIGHUP become KeyboardInterrupt, so every `finally` on the way out (servers stopped,
databases dropped) runs before the process ends.
"""

from __future__ import annotations

import signal
import sys
import traceback
from collections.abc import Callable

from bench.runs import BENCH_DIR
from bench.servers import BenchError


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def guarded(body: Callable[[], None]) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    try:
        body()
        return 0
    except BenchError as error:
        print(f"bench: FAILED: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("bench: FAILED: interrupted; servers stopped", file=sys.stderr, flush=True)
        return 130
    except Exception as error:  # a bug in the harness: one line here, the traceback in a file
        trace = BENCH_DIR / "work" / "last-error.log"
        trace.parent.mkdir(exist_ok=True)
        trace.write_text(traceback.format_exc(), encoding="utf-8")
        print(f"bench: FAILED: {type(error).__name__}: {error} (traceback in {trace})", file=sys.stderr, flush=True)
        return 1
