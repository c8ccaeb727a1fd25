"""Backoff: full jitter (uniform from 0 to a capped, doubling ceiling), and its state."""

from __future__ import annotations

import random

import pytest

from bridgebot.pacing import Backoff


class Recorder(random.Random):
    """Records the bounds of every ``uniform`` draw and answers the upper one."""

    def __init__(self) -> None:
        super().__init__(0)
        self.draws: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.draws.append((a, b))
        return b


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("base", "cap", "attempt", "ceiling"),
    [
        (1.0, 300.0, 1, 1.0),
        (1.0, 300.0, 2, 2.0),
        (1.0, 300.0, 3, 4.0),
        (1.0, 300.0, 9, 256.0),
        (1.0, 300.0, 10, 300.0),  # capped
        (0.2, 60.0, 1, 0.2),
        (0.2, 60.0, 9, 51.2),
        (0.2, 60.0, 10, 60.0),
        (5.0, 2.0, 1, 2.0),  # a cap below the base caps the first wait too
        (1.0, 60.0, 0, 1.0),  # below 1 counts as the first retry
        (1.0, 60.0, -3, 1.0),
        (1.0, 60.0, 10_000, 60.0),  # no overflow, however long the outage
    ],
)
def test_delay_is_uniform_from_zero_to_the_capped_doubling_ceiling(
    base: float, cap: float, attempt: int, ceiling: float
) -> None:
    rng = Recorder()
    backoff = Backoff(base=base, cap=cap, rng=rng)
    assert backoff.ceiling(attempt) == pytest.approx(ceiling)
    assert backoff.delay(attempt) == pytest.approx(ceiling)
    assert rng.draws == [(0.0, pytest.approx(ceiling))]


@pytest.mark.parametrize(("base", "cap"), [(1.0, 300.0), (0.2, 60.0), (0.5, 8.0)])
def test_seeded_delays_stay_in_bounds_and_reach_down_to_zero(base: float, cap: float) -> None:
    backoff = Backoff(base=base, cap=cap, rng=random.Random(1234))
    for attempt in range(1, 15):
        ceiling = backoff.ceiling(attempt)
        samples = [backoff.delay(attempt) for _ in range(400)]
        assert all(0.0 <= s <= ceiling for s in samples)
        # full jitter, not "half" jitter: some waits are far below half the ceiling
        assert min(samples) < ceiling * 0.1
        assert max(samples) > ceiling * 0.9


def test_a_seeded_rng_gives_the_same_delays_and_another_seed_others() -> None:
    def run(seed: int) -> list[float]:
        backoff = Backoff(base=1.0, cap=60.0, rng=random.Random(seed))
        return [backoff.next_delay() for _ in range(10)]

    assert run(7) == run(7)
    assert run(7) != run(8)


@pytest.mark.parametrize(
    ("base", "cap", "expected"),
    [
        (1.0, 60.0, [1, 2, 4, 8, 16, 32, 60, 60]),
        (0.2, 1.0, [0.2, 0.4, 0.8, 1.0, 1.0]),
        (3.0, 3.0, [3, 3, 3]),
    ],
)
def test_next_delay_doubles_per_failure_up_to_the_cap(
    base: float, cap: float, expected: list[float]
) -> None:
    backoff = Backoff(base=base, cap=cap, rng=Recorder())
    got = [backoff.next_delay() for _ in expected]
    assert got == pytest.approx(expected)
    assert backoff.attempts == len(expected)


def test_reset_starts_the_ceiling_over() -> None:
    backoff = Backoff(base=1.0, cap=60.0, rng=Recorder())
    assert [backoff.next_delay() for _ in range(4)] == [1, 2, 4, 8]
    backoff.reset()
    assert backoff.attempts == 0
    assert [backoff.next_delay() for _ in range(2)] == [1, 2]


@pytest.mark.parametrize(
    ("quiet", "steps"),
    [
        # (failure time, expected wait); the calm starts when the previous wait ends
        (30.0, [(0.0, 1), (10.0, 2), (41.5, 4), (75.5, 1), (76.5, 2)]),
        (None, [(0.0, 1), (1000.0, 2), (5000.0, 4), (99999.0, 8)]),
        (5.0, [(0.0, 1), (5.5, 2), (12.5, 1)]),
    ],
)
def test_a_quiet_period_after_the_last_wait_counts_as_a_success(
    quiet: float | None, steps: list[tuple[float, float]]
) -> None:
    clock = Clock()
    backoff = Backoff(base=1.0, cap=60.0, quiet=quiet, rng=Recorder(), clock=clock)
    for at, wait in steps:
        clock.now = at
        assert backoff.next_delay() == wait, f"failure at {at}"


@pytest.mark.parametrize(("base", "cap"), [(0.0, 60.0), (-1.0, 60.0), (1.0, 0.0)])
def test_a_backoff_that_never_waits_is_refused(base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        Backoff(base=base, cap=cap)
