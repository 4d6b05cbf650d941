"""One percentile rule for Compare, the storm and the benchmarks: nearest rank."""

from transport.core.percentile import percentile
from transport.loadtest.aggregate import UserLedger, aggregate


def test_percentiles_are_nearest_rank():
    values = sorted(float(v) for v in range(1, 101))
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile(values, 0.99)) == (50.0, 95.0, 99.0)
    assert percentile([10, 20, 30, 40], 0.5) == 20  # the value at rank ⌈0.5·4⌉ = 2, not the 3rd
    assert percentile([], 0.5) is None and percentile([7.0], 0.99) == 7.0


def test_the_storms_recovery_times_use_the_same_rule():
    users = [UserLedger(received=5, recover_ms=[float(ms)]) for ms in (40, 10, 30, 20)]
    assert aggregate(users)["recover_ms_p50"] == 20
