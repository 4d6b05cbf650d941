"""The collector's view of the app: what lives as long as the window is frozen out of it.

A full garbage collection walks every tracked object. With the window built
(modules, classes, the Qt wrappers of every widget: about 100 000 objects)
one takes 40–55 ms here, and at a fast feed they come every second or so: the
event loop's worst lag. Those objects live as long as the app, so they are
collected once and then moved out of the collector's sight (``gc.freeze``);
what is made later (events, rows' containers, tasks) is collected as usual.

Big buffers outside the heap (``map_big_buffers``): glibc raises its mmap
threshold each time a big block is freed, so a timeline's growing columns (1 to
90 MB each, reallocated as they grow) end up inside the brk heap, where each
growth leaves a hole the size of the last copy. With the threshold fixed, every
block of 128 KB or more is its own mapping, grown in place (mremap) and given
back whole: 5–8 MB less resident for a million rows here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys


YOUNG = 20_000  # allocations between young collections (Python's default: 700)


def freeze_startup() -> None:
    """Call once the main window is built and shown."""
    gc.collect()
    gc.freeze()
    # A fast feed allocates a record and its meta per message, nearly all gone by the next flush: with
    # young collections every 700 allocations, many are caught alive in the bridge's list and promoted
    # (and scanned again, older). Every 20 000, most are already freed by reference counting.
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG, older, oldest)


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
BIG = 128 * 1024


def map_big_buffers() -> bool:
    """Call once at startup (glibc only; elsewhere nothing happens): whether the setting took."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, BIG))
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
