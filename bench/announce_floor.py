"""The floor for bench/announce.py: how soon the labs' rate limits let a set of sends finish.

Each lab's own limiter arithmetic is replayed on a virtual clock with zero latency: the
Slack lab's per-channel token bucket (bridgebot.ratelimit.TokenBucket, the class the lab
uses), the Telegram lab's sliding windows per chat, per group and per bot (its own
WindowLimiter), the Discord lab's fixed windows per route and major parameter plus the
global one (modelled here: its RateLimiter reads the real clock), Synapse's rc_message (a
token bucket per user). The same replay over the dispatcher's token buckets tells what our
own pacing allows, and over both together what this configuration allows at best.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bridgebot.config import RateConfig
from bridgebot.lab.discord import RateLimitConfig
from bridgebot.lab.slack_state import SlackWorld
from bridgebot.lab.telegram import RateLimits
from bridgebot.lab.telegram_state import WindowLimiter
from bridgebot.pacing import TokenBucket

__all__ = [
    "Bucket",
    "FixedWindow",
    "Floors",
    "discord",
    "finish_time",
    "floors",
    "pacing",
    "per_user",
    "slack",
    "telegram",
    "unlimited",
]

#: A nanosecond past each limit's edge, so float rounding never lands a send exactly on it.
EDGE = 1e-9


class Limit(Protocol):
    def wait(self, now: float) -> float: ...
    def record(self, now: float) -> None: ...


#: Per room (one FIFO), per request in order: the limits that request must pass.
Streams = list[list[list[Limit]]]


class Bucket:
    """A token bucket (the Slack lab's, Synapse's, the dispatcher's) on a virtual clock."""

    def __init__(self, rate: float | None, burst: int) -> None:
        self.now = 0.0
        self._bucket = TokenBucket(rate, burst, clock=lambda: self.now)

    def wait(self, now: float) -> float:
        self.now = now
        return self._bucket.delay()

    def record(self, now: float) -> None:
        self.now = now
        self._bucket.take()


class FixedWindow:
    """A Discord lab bucket: ``count`` requests per ``window`` from the first one in it."""

    def __init__(self, count: int, window: float) -> None:
        self.count, self.window = count, window
        self.remaining, self.reset_at = 0, -1.0

    def wait(self, now: float) -> float:
        if now >= self.reset_at or self.remaining > 0:
            return 0.0
        return self.reset_at - now

    def record(self, now: float) -> None:
        if now >= self.reset_at:
            self.remaining, self.reset_at = self.count, now + self.window
        self.remaining -= 1


def finish_time(streams: Sequence[Sequence[Sequence[Limit]]]) -> float:
    """When the last send is done if every stream (one room's FIFO) sends each item as soon
    as all of its limits allow, with zero latency: the earliest possible send first, ties to
    the room that has sent least (so that every room's windows open as early as they can).
    For the labs' limits that is the soonest the sends can all be done."""

    def wait(limits: Sequence[Limit], now: float) -> float:
        return max((lim.wait(now) for lim in limits), default=0.0)

    now, heads = 0.0, [0] * len(streams)
    while True:
        best: tuple[float, int, int] | None = None
        for i, stream in enumerate(streams):
            if heads[i] < len(stream):
                w = wait(stream[heads[i]], now)
                candidate = (now + w + EDGE if w > 0 else now, heads[i], i)
                best = candidate if best is None else min(best, candidate)
        if best is None:
            return now
        now, _, i = best
        while (w := wait(streams[i][heads[i]], now)) > 0:
            now += w + EDGE
        for lim in streams[i][heads[i]]:
            lim.record(now)
        heads[i] += 1


# -- each lab's limits, for K messages into each of N rooms --------------------------------


def slack(world: SlackWorld, n: int, k: int) -> Streams:
    """chat.postMessage: a token bucket per channel."""
    return [[[Bucket(world.post_rate, world.post_burst)]] * k for _ in range(n)]


def telegram(limits: RateLimits, n: int, k: int) -> Streams:
    """sendMessage into a supergroup: per chat, per group and per bot sliding windows."""
    scale, slack = limits.time_scale, limits.slack
    bot = WindowLimiter(limits.per_bot[0], limits.per_bot[1] * scale, slack)
    streams: Streams = []
    for _ in range(n):
        chat = WindowLimiter(limits.per_chat[0], limits.per_chat[1] * scale, slack)
        group = WindowLimiter(limits.per_group[0], limits.per_group[1] * scale, slack)
        streams.append([[chat, group, bot]] * k)
    return streams


def discord(config: RateLimitConfig, n: int, k: int) -> Streams:
    """A channel's first send finds or makes its webhook (GET, then POST .../webhooks); every
    send executes the webhook (a bucket per webhook). All share the global window."""
    glob = FixedWindow(config.global_per_second, 1.0)

    def channel() -> list[list[Limit]]:
        setup: list[list[Limit]] = [
            [FixedWindow(config.per_route, config.window), glob] for _ in range(2)
        ]
        return setup + [[FixedWindow(config.per_route, config.window), glob]] * k

    return [channel() for _ in range(n)]


def per_user(rate: float, burst: int, n: int, k: int) -> Streams:
    """One token bucket for every send of the user (Synapse's rc_message)."""
    user = Bucket(rate, burst)
    return [[[user]] * k for _ in range(n)]


def unlimited(n: int, k: int) -> Streams:
    """No limit at all (the lab list server)."""
    return [[[]] * k for _ in range(n)]


def pacing(rate: RateConfig | None, n: int, k: int) -> Streams:
    """The dispatcher's buckets: one per room and one per account, a token per delivery."""
    per_net = Bucket(rate.per_network if rate else None, rate.network_burst if rate else 1)
    return [
        [[per_net, Bucket(rate.per_room if rate else None, rate.room_burst if rate else 1)]] * k
        for _ in range(n)
    ]


@dataclass(frozen=True, slots=True)
class Floors:
    lab: float  # what the lab allows
    pacing: float  # what the dispatcher's buckets allow
    both: float  # what both together allow: the best this configuration can do


def floors(lab: Callable[[], Streams], rate: RateConfig | None, n: int, k: int) -> Floors:
    """``lab()`` builds fresh lab streams (a replay uses its limits up)."""
    combined = lab()
    first = len(combined[0]) - k  # requests a first delivery makes before its own send
    for stream, deliveries in zip(combined, pacing(rate, n, k), strict=True):
        for j, limits in enumerate(deliveries):
            at = 0 if j == 0 else first + j  # a delivery takes its tokens before its 1st call
            stream[at] = [*stream[at], *limits]
    return Floors(finish_time(lab()), finish_time(pacing(rate, n, k)), finish_time(combined))
