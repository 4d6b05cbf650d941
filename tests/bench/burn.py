"""A second process that burns one core while a bench runs: a user's machine is never idle.

``with burning():`` starts ``python -c 'while True: pass'`` (its own process, lowest niceness kept as
ours: it competes as another program would) and stops it on leaving, whatever happened; the bench
reports the figure quiet and burning. Bounded: the burner also ends by itself after ``limit_s``.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from typing import Iterator

BURN = "import time\nend = time.monotonic() + {limit}\nwhile time.monotonic() < end:\n    for _ in range(10000): pass\n"


@contextlib.contextmanager
def burning(limit_s: float = 900.0) -> Iterator[None]:
    proc = subprocess.Popen([sys.executable, "-c", BURN.format(limit=limit_s)])
    try:
        time.sleep(0.2)  # the burner is running before the measure starts (it has no signal to wait on)
        yield
    finally:
        proc.kill()
        proc.wait(10)
