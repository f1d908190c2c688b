"""mlockall(2): keep the process's memory, keys included, out of swap."""

from __future__ import annotations

import ctypes
import ctypes.util
import os

MCL_CURRENT = 1
MCL_FUTURE = 2


class MemoryLockError(Exception):
    pass


def lock_all_memory() -> None:
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        raise MemoryLockError("the C library was not found, so mlockall is not available")
    libc = ctypes.CDLL(libc_name, use_errno=True)
    if libc.mlockall(MCL_CURRENT | MCL_FUTURE) != 0:
        errno = ctypes.get_errno()
        raise MemoryLockError(
            f"failed to lock memory: {os.strerror(errno)}. This usually means the process lacks the "
            "CAP_IPC_LOCK capability or RLIMIT_MEMLOCK is too low: grant it (e.g. `setcap cap_ipc_lock=+ep` "
            "on the Python binary, or LimitMEMLOCK=infinity in systemd), or set `disable_mlock = true` in the "
            "configuration if swap is encrypted or disabled"
        )
