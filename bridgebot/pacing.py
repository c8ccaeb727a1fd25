"""Pacing: token buckets and sliding windows for sends, backoff for retries and reconnects."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Callable

__all__ = ["Backoff", "SlidingWindow", "TokenBucket"]


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up. ``rate=None`` is unlimited."""

    def __init__(
        self,
        rate: float | None,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._clock = clock
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        if self.rate is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def delay(self) -> float:
        """Seconds until a token is available (0 if one is available now)."""
        if self.rate is None:
            return 0.0
        self._refill()
        if self._tokens >= 1:
            return 0.0
        return (1 - self._tokens) / self.rate

    def take(self) -> None:
        """Spend one token (call only when ``delay()`` is 0)."""
        if self.rate is not None:
            self._refill()
            self._tokens -= 1

    def pause(self, seconds: float) -> None:
        """Empty the bucket for ``seconds`` (the server said retry-after)."""
        if self.rate is not None:
            self._refill()
            self._tokens = min(self._tokens, 1 - seconds * self.rate)

    async def acquire(self) -> None:
        """Wait for and take one token."""
        while (wait := self.delay()) > 0:
            await asyncio.sleep(wait)
        self.take()


class SlidingWindow:
    """At most ``count`` events in any ``seconds`` (e.g. Telegram's 20 messages a minute
    per group), which a token bucket cannot say together with a per-second rate.
    ``count=None`` is unlimited."""

    def __init__(
        self,
        count: int | None,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.count = count
        self.seconds = seconds
        self._clock = clock
        self._stamps: deque[float] = deque()

    def delay(self) -> float:
        """Seconds until one more event fits in the window (0 if it fits now)."""
        if self.count is None:
            return 0.0
        now = self._clock()
        while self._stamps and self._stamps[0] <= now - self.seconds:
            self._stamps.popleft()
        if len(self._stamps) < self.count:
            return 0.0
        return self._stamps[0] + self.seconds - now

    def record(self) -> None:
        """Count one event, now."""
        if self.count is not None:
            self._stamps.append(self._clock())


class Backoff:
    """Capped exponential backoff with full jitter.

    "Full jitter" as in the AWS Architecture Blog's "Exponential Backoff And Jitter": the
    wait before retry ``n`` (1-based) is uniform in ``[0, min(cap, base * 2**(n-1))]``
    (the blog's ``2**attempt`` with attempt counted from 0). Spreading the waits all the way
    down to 0 is what keeps many clients that failed together from retrying together.

    Stateless: ``delay(attempt)`` for callers that count attempts themselves. Stateful, for
    a reconnect loop: ``next_delay()`` after each failure, ``reset()`` after a success.
    With ``quiet`` set, a failure that comes ``quiet`` seconds or more after the previous
    wait ended counts as the first again: a connection that held that long was healthy,
    so the loop need not call ``reset()`` at the moment it became so.

    ``rng`` (a ``random.Random``) and ``clock`` are injectable so tests are deterministic.
    """

    #: 2**64 times any sane base is past any sane cap; stops huge attempt numbers overflowing.
    _MAX_DOUBLINGS = 64

    def __init__(
        self,
        base: float = 1.0,
        cap: float = 300.0,
        *,
        quiet: float | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if base <= 0 or cap <= 0:
            raise ValueError(f"backoff base and cap must be positive, not {base} and {cap}")
        self.base = base
        self.cap = cap
        self.quiet = quiet
        self._rng = rng if rng is not None else random.Random()
        self._clock = clock
        self._attempts = 0
        self._calm_since: float | None = None  # when the last wait handed out ends

    @property
    def attempts(self) -> int:
        """Failures counted since the last reset (or quiet period)."""
        return self._attempts

    def ceiling(self, attempt: int) -> float:
        """The longest wait before retry number ``attempt`` (1-based; below 1 counts as 1)."""
        doublings = min(max(0, attempt - 1), self._MAX_DOUBLINGS)
        return min(self.cap, math.ldexp(self.base, doublings))

    def delay(self, attempt: int) -> float:
        """The wait before retry number ``attempt`` (1-based): uniform in [0, ceiling]."""
        return self._rng.uniform(0.0, self.ceiling(attempt))

    def next_delay(self) -> float:
        """Count one more failure and return the wait before the next try."""
        now = self._clock()
        if (
            self.quiet is not None
            and self._calm_since is not None
            and now - self._calm_since >= self.quiet
        ):
            self._attempts = 0
        self._attempts += 1
        wait = self.delay(self._attempts)
        self._calm_since = now + wait
        return wait

    def reset(self) -> None:
        """A success: the next failure waits as little as the first did."""
        self._attempts = 0
        self._calm_since = None
