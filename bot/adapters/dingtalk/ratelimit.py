"""Client-side throttle for the DingTalk OpenAPI: a sliding window per API.

DingTalk allows 20 calls per second per app and per API (standard edition). Above that it
answers ``Forbidden.AccessDenied.QpsLimitForAppkeyAndApi`` and advises waiting on the
client side. :class:`RateLimiter` keeps, per key (the API path, e.g.
``/v1.0/robot/oToMessages/batchSend``), the start times of the last ``limit`` calls: a call
may start when the ``limit``-th latest one started at least ``window`` seconds earlier. So
no span of ``window`` seconds ever holds more than ``limit`` starts — after an idle spell
too (a token bucket with a burst of 20 admits 40 within one second). The default window is
1.05 s: 5 % slack for requests that travel at different speeds, so DingTalk's own one-second
count never sees a 21st.

Callers that must wait *reserve* their start time before they sleep, so callers arriving
together (``asyncio.gather``) queue up in arrival order without a lock and never start
early. A caller cancelled while it waits gives its slot back.

The limit is per process: one :class:`RateLimiter` per app, shared by everything that calls
that app's APIs. Several processes for one app each need a share of the 20 QPS.

Source: https://open.dingtalk.com/document/development/how-to-process-api-throttling-on-the-dingtalk-server
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

DEFAULT_LIMIT = 20  # calls per window per app per API
DEFAULT_WINDOW = 1.05  # seconds: one second plus slack for network jitter


class RateLimiter:
    """Sliding windows keyed by API; ``clock`` and ``sleep`` are injectable for tests."""

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window: float = DEFAULT_WINDOW,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        """Set the limit shared by every key.

        Args:
            limit: Calls that may start within any ``window`` seconds on one key (≥ 1).
            window: Length of that span in seconds (> 0).
            clock: Monotonic seconds.
            sleep: Awaitable delay in seconds.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if not window > 0:
            raise ValueError("window must be positive")
        self.limit = limit
        self.window = float(window)
        self.clock = clock
        self.sleep = sleep
        self.delayed = 0  # calls that had to wait (observability)
        self._starts: dict[str, deque[float]] = {}  # reserved start times, ascending

    def _reserve(self, key: str) -> tuple[float, float]:
        now = self.clock()
        starts = self._starts.setdefault(key, deque())
        # Starts a full window ago no longer hold anyone back.
        while starts and starts[0] <= now - self.window:
            starts.popleft()
        start = now
        if len(starts) >= self.limit:
            start = max(now, starts[-self.limit] + self.window)
        starts.append(start)
        return start, start - now

    def reserve(self, key: str) -> float:
        """Take a slot for one call on ``key`` now; returns how long to wait before it starts.

        Synchronous on purpose: nothing else runs between reading and updating the window.
        """
        return self._reserve(key)[1]

    async def acquire(self, key: str) -> float:
        """Wait until one more call on ``key`` may start; returns the seconds waited."""
        start, delay = self._reserve(key)
        if delay <= 0:
            return 0.0
        self.delayed += 1
        try:
            await self.sleep(delay)
        except asyncio.CancelledError:
            self._give_back(key, start)
            raise
        return delay

    def _give_back(self, key: str, start: float) -> None:
        starts = self._starts.get(key)
        if starts is not None and start in starts:
            starts.remove(start)
