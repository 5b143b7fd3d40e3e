"""From a decoded platform event to a handled one: store first, ack, handle in a task.

Acks have a hard deadline (WeCom retries after 5 s, DingTalk Stream redelivers) and
handling has none: a stored event is safe whenever it is handled. Both share one event
loop, and on SQLite one database connection, and handling an event costs some 30 times
the CPU time of storing it. So handling yields to acks: during a burst of new events,
handlers wait to start (the events stay stored) and catch up when it is over. One handler
still starts every ``trickle_seconds`` meanwhile, so a burst that never ends cannot starve
handling altogether.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable

from bot.core.dispatch import Dispatcher
from bot.core.events import Event

log = logging.getLogger("hrbot.dispatch")

# The ack rate is averaged over about this long: long enough that a steady 200 requests/s
# does not look like a burst, short enough that handling resumes soon after one.
RATE_WINDOW_SECONDS = 0.25
_POLL_SECONDS = 0.01


class EventIntake:
    """Stores each event before its ack and handles it afterwards, a bounded number at once.

    Args:
        dispatcher: Stores (``accept``) and handles (``feed``) events.
        after_handling: Awaited after each handled event (sending its replies).
        max_concurrent: Events handled at once.
        max_waiting: Events held for handling at once; beyond that they are left stored for
            the clock's redelivery, so memory stays bounded under any burst.
        busy_rate: New events per second (averaged over :data:`RATE_WINDOW_SECONDS`) above
            which handlers wait to start. Handlers also wait while stores queue up (more than
            one being stored at once).
        trickle_seconds: While handlers wait, one of them (the longest waiting) starts
            anyway every this many seconds.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        after_handling: Callable[[], Awaitable[object]] | None = None,
        max_concurrent: int = 16,
        max_waiting: int = 1000,
        busy_rate: float = 250.0,
        trickle_seconds: float = 0.1,
    ) -> None:
        self.dispatcher = dispatcher
        self.max_waiting = max_waiting
        self.after_handling = after_handling
        self.busy_rate = busy_rate
        self.trickle_seconds = trickle_seconds
        self._slots = asyncio.Semaphore(max_concurrent)
        self._tasks: set[asyncio.Task[None]] = set()
        self._overflow = 0  # events left for redelivery in the current burst
        self._storing = 0  # takes waiting for their event to be stored
        self._level = 0.0  # takes, decaying with RATE_WINDOW_SECONDS (rate = level / window)
        self._level_at = time.monotonic()
        self._trickle = asyncio.Lock()  # first come, first served among waiting handlers
        self._trickled_at = time.monotonic()

    async def take(self, event: Event) -> bool:
        """Store ``event`` (raises if the database is unreachable: do not ack then).

        Returns True when it is new; a retry already stored is acked and dropped.
        """
        self._count_ack()
        self._storing += 1
        try:
            new = await self.dispatcher.accept(event)
        finally:
            self._storing -= 1
        if not new:
            return False
        if len(self._tasks) >= self.max_waiting:
            # Memory stays bounded under a burst: the event is stored, and the clock's
            # redelivery handles it once the backlog has drained. One warning per burst.
            self._overflow += 1
            level = logging.WARNING if self._overflow == 1 else logging.DEBUG
            log.log(
                level,
                "handling backlog full (%d); event %s left for redelivery",
                len(self._tasks),
                event.event_id,
            )
            return True
        if self._overflow and len(self._tasks) <= self.max_waiting // 2:
            # Only once the backlog is well below the cap: handling that yields to a burst
            # frees a slot now and then, and each would otherwise end "the burst" in the log.
            log.warning(
                "handling backlog drained; %d events were left for redelivery", self._overflow
            )
            self._overflow = 0
        task = asyncio.create_task(self._handle(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    def ack_rate(self) -> float:
        """New events per second lately (an exponentially weighted average)."""
        return self._decayed(time.monotonic()) / RATE_WINDOW_SECONDS

    def busy(self) -> bool:
        """Whether acks have priority now: a burst, or stores queueing up."""
        return self._storing > 1 or self.ack_rate() > self.busy_rate

    def _decayed(self, now: float) -> float:
        return self._level * math.exp((self._level_at - now) / RATE_WINDOW_SECONDS)

    def _count_ack(self) -> None:
        now = time.monotonic()
        self._level = self._decayed(now) + 1.0
        self._level_at = now

    async def _yield_to_acks(self) -> None:
        if not self.busy():
            return
        async with self._trickle:
            while self.busy():
                wait = self._trickled_at + self.trickle_seconds - time.monotonic()
                if wait <= 0:
                    break
                await asyncio.sleep(min(wait, _POLL_SECONDS))
            self._trickled_at = time.monotonic()

    async def _handle(self, event: Event) -> None:
        async with self._slots:
            try:
                await self._yield_to_acks()
                await self.dispatcher.feed(event)
                if self.after_handling is not None:
                    await self.after_handling()
            except Exception:
                # Stored and unprocessed: the clock's redelivery tries again.
                log.exception("handling event %s failed", event.event_id)

    async def drain(self) -> None:
        """Wait for every event being handled (clean shutdown)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))
