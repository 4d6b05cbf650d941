"""Opening a file the user named, safely: only a regular file (a FIFO or a device would block or never
end), never waiting on the open itself."""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """``path`` opened for reading in binary; OSError (with a one-line ``strerror``) when it is not a
    regular file. The open cannot block: O_NONBLOCK, then the check on the descriptor itself."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = "a directory" if stat.S_ISDIR(mode) else "a pipe" if stat.S_ISFIFO(mode) else \
                "a device or socket"
            raise OSError(errno.EINVAL, f"it is {what}, not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
