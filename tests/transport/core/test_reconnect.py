"""The reconnect controller on an injected clock: the one reset rule, the one failure count, the pacing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transport.core.backoff import Policy
from transport.core.reconnect import BURST, RATE, ReconnectController


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


FIXED = Policy("fixed", 1.0, stable_after=2.0)
EXP = Policy("exponential", 0.5, 8.0, 2.0, 0.0, stable_after=2.0)
TINY = Policy("fixed", 0.0)  # a user's "retry at once"

# One attempt's outcome: (kind, seconds the connection stayed up, delivered something new)
outcomes = st.lists(st.tuples(st.sampled_from(["failed", "ended"]), st.floats(0, 10), st.booleans()),
                    min_size=1, max_size=60)


def play(rc: ReconnectController, clock: Clock, kind: str, up: float, delivered: bool):
    if kind == "failed":
        return rc.failed("refused")
    rc.opened()
    clock.now += up
    if delivered:
        rc.delivered()
    return rc.ended("closed by server")


@given(outcomes, st.sampled_from([FIXED, EXP, TINY]), st.integers(1, 6))
@settings(max_examples=300, deadline=None)
def test_gives_up_exactly_after_max_consecutive_failures(seq, policy, max_failures):
    clock = Clock()
    rc = ReconnectController(policy, max_failures=max_failures, clock=clock)
    run = 0  # failures since the last healthy connection, as the rule defines them
    for kind, up, delivered in seq:
        healthy = kind == "ended" and delivered and up >= policy.stable_after
        failure = kind == "failed" or not delivered
        run = 0 if healthy else run
        run += 1 if failure else 0
        decision = play(rc, clock, kind, up, delivered)
        assert decision.give_up == (run >= max_failures)
        if decision.give_up:
            assert decision.why.startswith(f"Giving up after {max_failures} failed attempts")
            return
        assert rc.failures == run and decision.attempt == run + 1
        clock.now += decision.delay


@given(outcomes)
@settings(max_examples=200, deadline=None)
def test_backoff_restarts_only_after_a_stable_connection_that_delivered(seq):
    clock = Clock()
    rc = ReconnectController(EXP, clock=clock)
    expected = iter(EXP.delays())
    for kind, up, delivered in seq:
        if kind == "ended" and delivered and up >= EXP.stable_after:
            expected = iter(EXP.delays())
        decision = play(rc, clock, kind, up, delivered)
        want = next(expected)
        assert decision.delay >= want  # the floor may lengthen a wait, never shorten it
        clock.now += decision.delay


@given(st.lists(st.sampled_from(["failed", "ended"]), min_size=1, max_size=200),
       st.sampled_from([FIXED, EXP, TINY, None]), st.sampled_from([0.0, 0.01, 3.0]))
@settings(max_examples=200, deadline=None)
def test_a_server_that_answers_at_once_with_nothing_gets_a_few_requests_per_second(kinds, policy, retry):
    """Attempts that deliver nothing, each taking no time at all: whatever the policy (even a 0 s
    fixed one) or the server's retry (even 0), no more than BURST + RATE·t attempts in t seconds."""
    clock = Clock()
    rc = ReconnectController(policy, retry=lambda: retry, clock=clock)
    start = clock.now
    attempts = 1
    for kind in kinds:
        decision = play(rc, clock, kind, 0.0, False)
        clock.now += decision.delay
        attempts += 1
        assert attempts <= BURST + 1 + RATE * (clock.now - start) + 1e-9


def test_policy_delays_stand_when_slower_than_the_floor():
    clock = Clock()
    rc = ReconnectController(EXP, clock=clock)
    waits = []
    for _ in range(6):
        waits.append(rc.failed("refused").delay)
        clock.now += waits[-1]
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_accept_then_close_counts_as_failure_but_a_short_delivering_connection_does_not():
    clock = Clock()
    rc = ReconnectController(FIXED, max_failures=2, clock=clock)
    rc.opened()
    assert not rc.ended("closed with 1011").give_up and rc.failures == 1
    rc.opened()
    rc.delivered()
    clock.now += 0.5  # delivered, but not stable: no reset, no failure
    assert not rc.ended().give_up and rc.failures == 1
    rc.opened()
    decision = rc.ended("closed with 1011")
    assert decision.give_up and "Giving up after 2 failed attempts: closed with 1011" in decision.why


def test_long_poll_answered_empty_too_soon_waits_by_the_policy_but_is_no_failure():
    clock = Clock()
    rc = ReconnectController(EXP, max_failures=1, clock=clock)
    decision = rc.polled(0, 0.01, 25.0)
    assert decision is not None and decision.delay == 0.5 and "under a tenth" in decision.why
    assert rc.failures == 0 and not decision.give_up
    assert rc.polled(0, 0.01, 25.0).delay == 1.0  # it keeps backing off while the server does not hold
    assert rc.polled(0, 3.0, 25.0) is None  # held long enough: re-arm at once
    assert rc.polled(3, 0.01, 25.0) is None  # it brought something: re-arm at once
    assert rc.polled(0, 0.01, 25.0, empty=False) is None  # a control item (live) is an answer
    assert rc.polled(0, 0.0, None) is None  # short polling keeps its own interval
    assert rc.polled(0, 0.0, 0.0) is not None  # a long poll told not to hold: paced when empty


def test_backoff_resets_after_a_stable_stretch_of_good_polls():
    clock = Clock()
    rc = ReconnectController(EXP, clock=clock)
    for _ in range(3):
        rc.failed("HTTP 503")
    assert rc.failures == 3
    rc.polled(2, 0.1, 25.0)
    clock.now += 2.5
    rc.polled(1, 0.1, 25.0)
    assert rc.failures == 0 and rc.failed("HTTP 503").delay == 0.5


def test_event_source_mode_follows_the_servers_retry_and_grows_while_failing():
    clock = Clock()
    retry = [3.0]
    rc = ReconnectController(None, retry=lambda: retry[0], clock=clock)
    rc.opened()
    rc.delivered()
    clock.now += 5
    assert rc.ended().delay == 3.0
    retry[0] = 1.0
    assert [rc.failed("refused").delay for _ in range(3)] == [1.5, 2.25, 3.375]
    assert "server retry 1000 ms, backoff after 3 failed" == rc.basis()


def test_rejects_nonsense():
    with pytest.raises(ValueError):
        ReconnectController(None)
    with pytest.raises(ValueError):
        ReconnectController(FIXED, max_failures=0)
