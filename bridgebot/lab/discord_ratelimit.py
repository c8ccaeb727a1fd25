"""Per-route rate-limit buckets for the Discord lab, as in the public "Rate Limits" docs.

Each bucket is (route template, major parameter: channel or webhook id). Every answer carries
``X-RateLimit-Limit/-Remaining/-Reset/-Reset-After/-Bucket``; an exhausted bucket answers 429
with ``retry_after`` (seconds, float) in the JSON body and a ``Retry-After`` header. A global
limit applies across routes. Tests can also force the next N requests to be refused.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field

from aiohttp import web

__all__ = ["RateLimitConfig", "RateLimiter"]


@dataclass(slots=True)
class RateLimitConfig:
    """Bucket sizes; Discord's documented defaults are 5 per 5 s per channel, 50/s global."""

    per_route: int = 5
    window: float = 5.0
    global_per_second: int = 50


@dataclass(slots=True)
class _Bucket:
    remaining: int
    reset_at: float


@dataclass(slots=True)
class RateLimiter:
    """Counts requests per bucket and answers 429s; ``refused`` counts every 429 sent."""

    config: RateLimitConfig = field(default_factory=RateLimitConfig)
    refused: int = 0
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)
    _global: _Bucket = field(default_factory=lambda: _Bucket(0, 0.0))
    _forced: list[tuple[float, bool]] = field(default_factory=list)

    def force(self, count: int, retry_after: float, *, is_global: bool = False) -> None:
        """Refuse the next ``count`` API requests with 429 and this ``retry_after``."""
        self._forced.extend([(retry_after, is_global)] * count)

    def check(self, route: str, major: str) -> tuple[dict[str, str], web.Response | None]:
        """Take one token; return the headers to add, and a 429 answer if refused."""
        now = time.monotonic()
        bucket_hash = hashlib.sha1(route.encode()).hexdigest()[:16]
        if self._forced:
            retry_after, is_global = self._forced.pop(0)
            return {}, self._refuse(retry_after, bucket_hash, is_global=is_global)
        glob = self._global
        if now >= glob.reset_at:
            glob.remaining, glob.reset_at = self.config.global_per_second, now + 1.0
        if glob.remaining <= 0:
            return {}, self._refuse(glob.reset_at - now, bucket_hash, is_global=True)
        bucket = self._buckets.get((route, major))
        if bucket is None or now >= bucket.reset_at:
            bucket = _Bucket(self.config.per_route, now + self.config.window)
            self._buckets[(route, major)] = bucket
        # rounded up to the millisecond, so a client sleeping this long never wakes early
        reset_after = math.ceil(max(bucket.reset_at - now, 0.0) * 1000) / 1000
        headers = {
            "X-RateLimit-Limit": str(self.config.per_route),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket_hash,
        }
        if bucket.remaining <= 0:
            headers["X-RateLimit-Remaining"] = "0"
            return headers, self._refuse(reset_after, bucket_hash, headers=headers)
        bucket.remaining -= 1
        glob.remaining -= 1
        headers["X-RateLimit-Remaining"] = str(bucket.remaining)
        return headers, None

    def _refuse(
        self,
        retry_after: float,
        bucket_hash: str,
        *,
        is_global: bool = False,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        self.refused += 1
        retry_after = max(retry_after, 0.001)
        out = dict(headers or {})
        out.setdefault("X-RateLimit-Bucket", bucket_hash)
        out["Retry-After"] = str(math.ceil(retry_after))
        out.setdefault("X-RateLimit-Reset-After", f"{retry_after:.3f}")
        out["X-RateLimit-Scope"] = "global" if is_global else "user"
        if is_global:
            out["X-RateLimit-Global"] = "true"
        out["Content-Type"] = "application/json"
        # Discord answers through Google's front end; discord.py reads a 429 without Via as
        # a Cloudflare ban and gives up instead of waiting.
        out["Via"] = "1.1 google"
        body = {
            "message": "You are being rate limited.",
            "retry_after": round(retry_after, 3),
            "global": is_global,
        }
        return web.Response(status=429, body=json.dumps(body).encode(), headers=out)
