"""Group commit for the inbox: events arriving together are stored in one transaction.

Every callback must be stored before it is acked, and on SQLite each transaction takes the
database's single write lock; one transaction per event caps the ack rate. Requests that
arrive while a batch is being written wait for the next batch, so a burst costs a few
transactions instead of one each, and a lone event is written at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from bot.events import Event
from storage.db import SessionFactory, session_scope
from storage.repo.inbox import record_events

MAX_BATCH = 200


class InboxWriter:
    def __init__(self, session_factory: SessionFactory, clock: Callable[[], datetime]) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self._queue: list[tuple[Event, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(self, event: Event) -> bool:
        """Store ``event``; False when it was already stored (a platform retry)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((event, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_batches())
        return await future

    async def _write_batches(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                new = await self._write(batch)
            except Exception as err:  # every waiter of this batch learns it was not stored
                for _, future in batch:
                    if not future.done():
                        future.set_exception(err)
                continue
            claimed: set[tuple[str, str]] = set()
            for event, future in batch:
                key = (event.platform.value, event.event_id)
                # The same event twice in one batch: the first waiter owns it.
                first = key in new and key not in claimed
                claimed.add(key)
                if not future.done():
                    future.set_result(first)

    async def _write(
        self, batch: list[tuple[Event, asyncio.Future[bool]]]
    ) -> set[tuple[str, str]]:
        unique = {(e.platform.value, e.event_id): e for e, _ in batch}
        async with session_scope(self.session_factory) as session:
            return await record_events(
                session=session,
                events=[(p, i, e.to_dict()) for (p, i), e in unique.items()],
                now=self.clock(),
            )
