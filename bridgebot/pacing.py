"""Token buckets and backoff for the dispatcher."""

from __future__ import annotations

import asyncio
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
    """Capped exponential backoff with full jitter (as discord.py's ExponentialBackoff)."""

    def __init__(self, base: float = 1.0, cap: float = 300.0) -> None:
        self.base = base
        self.cap = cap

    def delay(self, attempt: int) -> float:
        """The wait before retry number ``attempt`` (1-based)."""
        ceiling = min(self.cap, self.base * (2 ** max(0, attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)
