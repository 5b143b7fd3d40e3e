"""From a decoded platform event to a handled one: store first, ack, handle in a task."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.dispatch import Dispatcher
from bot.events import Event

log = logging.getLogger("hrbot.dispatch")


class EventIntake:
    """Stores each event before its ack and handles it afterwards, a bounded number at once."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        after_handling: Callable[[], Awaitable[object]] | None = None,
        max_concurrent: int = 16,
        max_waiting: int = 1000,
    ) -> None:
        self.dispatcher = dispatcher
        self.max_waiting = max_waiting
        self.after_handling = after_handling
        self._slots = asyncio.Semaphore(max_concurrent)
        self._tasks: set[asyncio.Task[None]] = set()
        self._overflow = 0  # events left for redelivery in the current burst

    async def take(self, event: Event) -> bool:
        """Store ``event`` (raises if the database is unreachable: do not ack then).

        Returns True when it is new; a retry already stored is acked and dropped.
        """
        if not await self.dispatcher.accept(event):
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
        if self._overflow:
            log.warning(
                "handling backlog drained; %d events were left for redelivery", self._overflow
            )
            self._overflow = 0
        task = asyncio.create_task(self._handle(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _handle(self, event: Event) -> None:
        async with self._slots:
            try:
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
