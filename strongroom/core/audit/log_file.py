"""The file a file audit device appends to, with blocking calls: the device runs them on a thread of its own.

The file is opened unbuffered, so each line reaches the kernel when its write returns; it is not fsync'd: a
crash of the machine (not of the process) can lose the last entries, as with Vault.
"""

from __future__ import annotations

import os

from strongroom.core.audit.errors import AuditDeviceError

DEFAULT_FILE_MODE = 0o600


class AuditLogFile:
    def __init__(self, path: str, mode: int) -> None:
        #: an absolute path
        self.path = path
        #: permission bits of a file the device creates (0: the default, 0600, and the umask)
        self.mode = mode
        self._fd: int | None = None

    def open(self) -> None:
        """Open for appending (a no-op when open), creating the file with `mode` if it does not exist; raise
        AuditDeviceError when it cannot be opened. The mode of an existing file is never changed: a device
        pointed at a file it did not create must not make it readable or writable by others."""
        if self._fd is not None:
            return
        path = self.path
        try:
            fd, created = self._open_or_create()
        except FileNotFoundError:
            raise AuditDeviceError(
                f'cannot open audit file "{path}": directory "{os.path.dirname(path)}" does not exist'
            ) from None
        except OSError as error:
            raise AuditDeviceError(f'cannot open audit file "{path}" for writing: {error.strerror}') from None
        try:
            if created and self.mode:  # the mode asked for, whatever the umask
                os.fchmod(fd, self.mode)
        except OSError as error:
            os.close(fd)
            raise AuditDeviceError(
                f'cannot set the mode of audit file "{path}" to {self.mode:04o}: {error.strerror}'
            ) from None
        self._fd = fd

    def _open_or_create(self) -> tuple[int, bool]:
        """The file's descriptor, and whether this call created the file."""
        flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC
        for _ in range(3):  # a file removed or created between the two calls: try again
            try:
                return os.open(self.path, flags | os.O_CREAT | os.O_EXCL, self.mode or DEFAULT_FILE_MODE), True
            except FileExistsError:
                pass
            try:
                return os.open(self.path, flags), False
            except FileNotFoundError:
                if not os.path.isdir(os.path.dirname(self.path)):
                    raise
        raise OSError(0, "a symbolic link to nothing, or a file that keeps being created and removed")

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def reopen(self) -> None:
        """Close and open again (log rotation moved the file away)."""
        self.close()
        self.open()

    def write(self, line: bytes) -> None:
        """Append `line` whole, or raise."""
        if self._fd is None:  # a failed reopen leaves the file closed; try again now
            self.open()
        written = self._write_all(line)
        if written == len(line):
            return
        if written:
            raise OSError(f"short write to audit file {self.path!r}")
        # Nothing was written: like Vault, reopen once and retry (the file may have been replaced).
        self.close()
        self.open()
        if self._write_all(line, raise_errors=True) != len(line):
            raise OSError(f"short write to audit file {self.path!r}")

    def _write_all(self, data: bytes, *, raise_errors: bool = False) -> int:
        assert self._fd is not None
        view = memoryview(data)
        written = 0
        while written < len(data):
            try:
                count = os.write(self._fd, view[written:])
            except OSError:
                if raise_errors or written:
                    raise
                return 0
            if count == 0:
                break
            written += count
        return written
