"""The dispatcher's limiters on a hand-driven clock."""

from __future__ import annotations

import itertools

import pytest

from bridgebot.config import parse_config
from bridgebot.errors import ConfigError
from bridgebot.pacing import SlidingWindow, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_window_allows_count_then_waits_for_the_oldest_to_leave() -> None:
    clock = Clock()
    window = SlidingWindow(3, 60.0, clock)
    for second in (0.0, 1.0, 2.0):
        clock.now = 100.0 + second
        assert window.delay() == 0.0
        window.record()
    clock.now = 110.0
    assert window.delay() == pytest.approx(50.0)  # the first leaves at 160
    clock.now = 160.0
    assert window.delay() == 0.0
    window.record()
    assert window.delay() == pytest.approx(1.0)  # the second leaves at 161


def test_unlimited_window_never_waits() -> None:
    window = SlidingWindow(None, 1.0)
    for _ in range(1000):
        window.record()
    assert window.delay() == 0.0


def test_telegram_default_keeps_both_one_a_second_and_twenty_a_minute() -> None:
    """Replays the dispatcher's pacing (wait for both, then spend both) for 60 sends."""
    clock = Clock()
    bucket, window = TokenBucket(1.0, 1, clock), SlidingWindow(20, 60.0, clock)
    sent = []
    for _ in range(60):
        clock.now += max(bucket.delay(), window.delay())
        sent.append(clock.now)
        bucket.take()
        window.record()
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert min(gaps) >= 1.0 - 1e-9
    assert all(sum(1 for t in sent if start <= t < start + 60) <= 20 for start in sent)
    assert sent[20] - sent[0] == pytest.approx(60.0)  # the 21st waits for the window


def config_with(table: str) -> str:
    return f"""
[networks.api.a]
bind = "127.0.0.1:4242"
{table}
[[bridges]]
name = "x"
[[bridges.rooms]]
room = "api.a:api"
"""


def test_room_window_is_read_and_zero_means_no_limit() -> None:
    from adapters import settings_models

    models = settings_models()
    config = parse_config(config_with("[dispatch.rate.api]\nroom_window = [5, 10]"), "b", models)
    assert config.dispatch.rate["api"].room_window == (5, 10.0)
    config = parse_config(config_with("[dispatch.rate.api]\nroom_window = [0, 1]"), "b", models)
    assert config.dispatch.rate["api"].room_window is None
    with pytest.raises(ConfigError) as bad:
        parse_config(config_with("[dispatch.rate.api]\nroom_window = [5, -1]"), "b", models)
    assert "dispatch.rate.api.room_window" in str(bad.value) and "[20, 60]" in str(bad.value)
