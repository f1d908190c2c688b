"""Keeping the process's memory, keys and secrets included, where only the process sees it: out of swap
(mlockall(2)) and out of core files and debuggers (no core dumps, not dumpable)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource

MCL_CURRENT = 1
MCL_FUTURE = 2
PR_SET_DUMPABLE = 4


class MemoryLockError(Exception):
    pass


class CoreDumpProtectionError(Exception):
    pass


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name, use_errno=True) if name is not None else None


def forbid_core_dumps() -> None:
    """No core file of this process, and no debugger attached by another process of the same user: a worker's
    core held a plaintext secret and the root token. The soft RLIMIT_CORE goes to 0; PR_SET_DUMPABLE 0 stops
    a dump even when the limit is raised again (prlimit from outside), and ptrace and /proc/<pid>/mem by the
    same user. A new program (a worker) starts dumpable again: each process calls this itself."""
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
    libc = _libc()
    if libc is None or not hasattr(libc, "prctl"):
        raise CoreDumpProtectionError("prctl is not available, so the process cannot be made non-dumpable")
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise CoreDumpProtectionError(f"prctl(PR_SET_DUMPABLE) failed: {os.strerror(errno)}")


def lock_all_memory() -> None:
    libc = _libc()
    if libc is None:
        raise MemoryLockError("the C library was not found, so mlockall is not available")
    if libc.mlockall(MCL_CURRENT | MCL_FUTURE) != 0:
        errno = ctypes.get_errno()
        raise MemoryLockError(
            f"failed to lock memory: {os.strerror(errno)}. This usually means the process lacks the "
            "CAP_IPC_LOCK capability or RLIMIT_MEMLOCK is too low: grant it (e.g. `setcap cap_ipc_lock=+ep` "
            "on the Python binary, or LimitMEMLOCK=infinity in systemd), or set `disable_mlock = true` in the "
            "configuration if swap is encrypted or disabled"
        )
