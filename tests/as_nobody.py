"""Run a piece of the test as the unprivileged user `nobody`, so that permission checks are exercised where the
suite runs as root (CI): root may open any file, and the errors a real operator meets never happen to it.

The child is forked from the test process and drops its privileges there, rather than starting an interpreter
as `nobody`: the interpreter, the virtual environment and the checkout need not be readable by `nobody`
(a venv under /root is not), because the code is already loaded. Import what the action needs before calling.
"""

from __future__ import annotations

import grp
import io
import os
import pwd
import select
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

NOBODY = "nobody"
NOGROUP_NAMES = ("nogroup", "nobody")


@dataclass(frozen=True)
class Finished:
    returncode: int
    output: str  # stdout and stderr, interleaved


def nobody_ids() -> tuple[int, int]:
    user = pwd.getpwnam(NOBODY)
    for name in NOGROUP_NAMES:
        try:
            return user.pw_uid, grp.getgrnam(name).gr_gid
        except KeyError:
            continue
    return user.pw_uid, user.pw_gid


@contextmanager
def directory_nobody_can_enter() -> Iterator[Path]:
    """A fresh directory under the system's temporary directory, mode 0755 (pytest's own are 0700 all the way)."""
    path = Path(tempfile.mkdtemp(prefix="strongroom-as-nobody-"))
    try:
        path.chmod(0o755)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_as_nobody(action: Callable[[], int], *, deadline_seconds: float = 60.0) -> Finished:
    """Fork, become `nobody` (no supplementary groups), run `action`, and return its result and everything it
    printed. Call it from the test's own (main) thread and outside an event loop: the action may install signal
    handlers and run a loop of its own."""
    uid, gid = nobody_ids()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its coverage is the parent's assertions
        _child(action, uid, gid, read_end, write_end)
    os.close(write_end)
    chunks: list[bytes] = []
    stop_at = time.monotonic() + deadline_seconds
    try:
        while True:
            left = stop_at - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                raise TimeoutError(f"the child run as nobody did not finish within {deadline_seconds:g}s")
            ready, _, _ = select.select([read_end], [], [], left)
            if ready:
                chunk = os.read(read_end, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    return Finished(os.waitstatus_to_exitcode(status), b"".join(chunks).decode(errors="replace"))


def _child(action: Callable[[], int], uid: int, gid: int, read_end: int, write_end: int) -> None:
    code = 99
    try:
        os.close(read_end)
        os.dup2(write_end, 1)
        os.dup2(write_end, 2)
        stream = io.TextIOWrapper(io.FileIO(write_end, "w", closefd=False), line_buffering=True)
        sys.stdout = sys.stderr = stream
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        result: list[int] = []

        def target() -> None:
            try:
                result.append(action())
            except SystemExit as exc:
                result.append(exc.code if isinstance(exc.code, int) else 1)
            except BaseException as exc:  # noqa: BLE001 - reported to the parent as text
                print(f"the action raised {type(exc).__name__}: {exc}", file=stream)
                result.append(98)

        target()  # on the forked thread itself: the server's signal handlers need the main thread
        code = result[0]
        stream.flush()
    finally:
        os._exit(code)
