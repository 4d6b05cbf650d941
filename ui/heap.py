"""The collector's view of the app: what lives as long as the window is frozen out of it.

A full garbage collection walks every tracked object. With the window built
(modules, classes, the Qt wrappers of every widget: about 100 000 objects)
one takes 40–55 ms here, and at a fast feed they come every second or so: the
event loop's worst lag. Those objects live as long as the app, so they are
collected once and then moved out of the collector's sight (``gc.freeze``);
what is made later (events, rows' containers, tasks) is collected as usual.
"""

from __future__ import annotations

import gc


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
