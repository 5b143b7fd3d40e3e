"""Per-member send limits for WeCom app messages, kept before WeCom drops the excess.

WeCom accepts at most 30 app messages a minute and 1 000 an hour to one member; any
more are answered ``errcode 0`` and silently dropped. Counting our own sends per userid
lets the messenger hand the excess back to the outbox (retried later) instead.

Only the per-member figures are enforced. The documented per-API limits are per corp
(10 000/min, 150 000/h) and per IP (20 000/min), shared with every other app and server
of the corp, so one process cannot count them; WeCom answers 45009 when they are hit,
which the client already turns into a retry. There is no per-app-per-API figure to keep.

Source: https://developer.work.weixin.qq.com/document/path/90312 (频率限制)
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence

# (messages, seconds) per member; the minute figure is the one that usually bites.
MEMBER_LIMITS: tuple[tuple[int, float], ...] = ((30, 60.0), (1000, 3600.0))


class MemberRateLimiter:
    """Sliding windows of sends per userid.

    Args:
        limits: ``(count, seconds)`` pairs; at most ``count`` sends in any ``seconds``.
        clock: Seconds on a steady scale (``time.monotonic`` unless given).
    """

    def __init__(
        self,
        limits: Sequence[tuple[int, float]] = MEMBER_LIMITS,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not limits or any(count < 1 or seconds <= 0 for count, seconds in limits):
            raise ValueError("limits need a positive count and window")
        self.limits = tuple((int(count), float(seconds)) for count, seconds in limits)
        self.clock = clock or time.monotonic
        self._horizon = max(seconds for _, seconds in self.limits)
        self._sent: dict[str, deque[float]] = {}

    def try_acquire(self, userid: str) -> float | None:
        """Count one send to ``userid``: None if allowed, else seconds until it would be."""
        now = self.clock()
        sent = self._sent.setdefault(userid, deque())
        while sent and sent[0] <= now - self._horizon:
            sent.popleft()
        wait = 0.0
        for count, seconds in self.limits:
            recent = [t for t in sent if t > now - seconds] if len(sent) >= count else []
            if len(recent) >= count:
                # The window frees up when the count-th newest send leaves it.
                wait = max(wait, recent[-count] + seconds - now)
        if wait > 0:
            return wait
        sent.append(now)
        return None
