"""Client-side throttle for the DingTalk OpenAPI: a token bucket per API.

DingTalk allows 20 calls per second per app and per API (standard edition). Above that it
answers ``Forbidden.AccessDenied.QpsLimitForAppkeyAndApi`` and advises waiting on the
client side. :class:`RateLimiter` keeps one bucket per key (the API path, e.g.
``/v1.0/robot/oToMessages/batchSend``): ``burst`` calls may start at once, after which calls
start ``1/rate`` seconds apart. Callers that find the bucket empty *reserve* the next free
start time before they sleep, so callers arriving together (``asyncio.gather``) queue up in
arrival order without a lock and never start early. A caller cancelled while it waits gives
its slot back.

Over any span of ``T`` seconds a key admits at most ``burst + rate·T`` calls. With the
defaults (20 and 20/s) that is up to 40 calls within one second after an idle spell; if the
server counts strictly per second window, use ``burst=1`` (even 50 ms spacing).

The limit is per process: one :class:`RateLimiter` per app, shared by everything that calls
that app's APIs. Several processes for one app each need a share of the 20 QPS.

Source: https://open.dingtalk.com/document/development/how-to-process-api-throttling-on-the-dingtalk-server
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

DEFAULT_RATE = 20.0  # calls per second per app per API
DEFAULT_BURST = 20


@dataclass
class _Bucket:
    tokens: float  # negative: slots already promised to callers still waiting
    updated: float  # clock reading ``tokens`` refers to


class RateLimiter:
    """Asyncio token buckets keyed by API; ``clock`` and ``sleep`` are injectable for tests."""

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        """Set the limit shared by every key.

        Args:
            rate: Calls per second per key once the burst is spent (> 0).
            burst: Calls that may start at once on an idle key (≥ 1).
            clock: Monotonic seconds.
            sleep: Awaitable delay in seconds.
        """
        if not rate > 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = float(rate)
        self.burst = burst
        self.clock = clock
        self.sleep = sleep
        self.delayed = 0  # calls that had to wait (observability)
        self._buckets: dict[str, _Bucket] = {}

    def reserve(self, key: str) -> float:
        """Take a slot for one call on ``key`` now; returns how long to wait before it starts.

        Synchronous on purpose: nothing else runs between reading and updating the bucket.
        """
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=float(self.burst), updated=now)
        elif now > bucket.updated:
            bucket.tokens = min(
                float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate
            )
            bucket.updated = now
        bucket.tokens -= 1.0
        return 0.0 if bucket.tokens >= 0 else -bucket.tokens / self.rate

    async def acquire(self, key: str) -> float:
        """Wait until one more call on ``key`` may start; returns the seconds waited."""
        delay = self.reserve(key)
        if delay <= 0:
            return 0.0
        self.delayed += 1
        try:
            await self.sleep(delay)
        except asyncio.CancelledError:
            self._give_back(key)
            raise
        return delay

    def _give_back(self, key: str) -> None:
        bucket = self._buckets[key]
        bucket.tokens = min(float(self.burst), bucket.tokens + 1.0)
