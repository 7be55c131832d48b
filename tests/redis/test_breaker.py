"""The circuit breaker on its own, with a hand-driven clock."""

from __future__ import annotations

import pytest

from agent_cache.backends.redis.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_only():
    clock = Clock()
    b = CircuitBreaker(failure_threshold=3, reset_timeout=1.0, clock=clock)
    assert b.allow() and not b.record_failure()
    assert b.allow() and not b.record_failure()
    b.record_success()  # not consecutive any more
    assert not b.record_failure() and not b.record_failure()
    assert b.record_failure()  # third in a row
    assert b.state == "open" and not b.allow() and b.opened_count == 1


def test_half_open_lets_one_probe_and_closes_on_success():
    clock = Clock()
    b = CircuitBreaker(failure_threshold=1, reset_timeout=1.0, clock=clock)
    b.record_failure()
    clock.now = 0.99
    assert not b.allow()
    clock.now = 1.0
    assert b.state == "half_open"
    assert b.allow()  # the probe
    assert not b.allow()  # only one at a time
    b.record_success()
    assert b.state == "closed" and b.allow()


def test_failed_probe_reopens_for_another_cool_down():
    clock = Clock()
    b = CircuitBreaker(failure_threshold=1, reset_timeout=1.0, clock=clock)
    b.record_failure()
    clock.now = 1.5
    assert b.allow()
    assert b.record_failure()  # probe failed: open again, from now
    assert b.opened_count == 2
    clock.now = 2.4
    assert not b.allow()
    clock.now = 2.5
    assert b.allow()


def test_cancelled_probe_frees_the_slot():
    clock = Clock()
    b = CircuitBreaker(failure_threshold=1, reset_timeout=0.0, clock=clock)
    b.record_failure()
    assert b.allow() and not b.allow()
    b.cancel_probe()
    assert b.allow()


def test_rejects_nonsense_settings():
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker(reset_timeout=-1)
