import itertools
import random

import pytest

from transport.core.backoff import Policy, exponential, fixed


def take(gen, n):
    return list(itertools.islice(gen, n))


def test_fixed_repeats_the_interval():
    assert take(fixed(0.5), 4) == [0.5, 0.5, 0.5, 0.5]
    with pytest.raises(ValueError):
        next(fixed(-1))


def test_exponential_grows_to_the_maximum_without_jitter():
    assert take(exponential(1, 5, 2, 0), 5) == [1, 2, 4, 5, 5]


def test_exponential_jitter_stays_within_bounds_and_varies():
    delays = take(exponential(1, 5, 2, 0.5, rng=random.Random(7)), 200)
    assert all(0 <= d <= 5 for d in delays)
    assert 0.5 <= delays[0] <= 1.5
    assert len(set(delays[10:])) > 10  # jitter spreads a reconnect storm


def test_policy_describes_itself_and_rejects_unknown_names():
    assert Policy("fixed", 2).describe() == "fixed 2 s"
    assert "exponential" in Policy("exponential", 1, 5).describe()
    with pytest.raises(ValueError):
        Policy("random").delays()
