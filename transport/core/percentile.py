"""The one percentile rule of Duplex (Compare's latency columns, the storm's recovery times, the benchmarks).

Nearest rank: the q-quantile of n sorted values is the value at rank ⌈q·n⌉ (1-based), the smallest value
with at least a fraction q of the values at or below it — p50 of [10, 20, 30, 40] is 20, p99 of a
hundred values is the 99th. It is always one of the values measured, never an interpolation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0–1) of already sorted values, nearest rank; None for no values."""
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[i]
