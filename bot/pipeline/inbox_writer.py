"""Group commit for the inbox: events arriving together are stored in one transaction.

Every callback must be stored before it is acked, and on SQLite each transaction takes the
database's single write lock; one transaction per event caps the ack rate. Requests that
arrive while a batch is being written wait for the next batch, so a burst costs a few
transactions instead of one each, and a lone event is written at once.

Per batch the cost is kept to what durability needs: the rows go to the driver as one
statement (:func:`storage.repo.inbox.inbox_inserter`), and during a burst the writer keeps
its pooled connection from one batch to the next instead of returning it each time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.events import Event
from storage.db import SessionFactory, session_scope
from storage.repo.inbox import Inserter, inbox_inserter, record_events

MAX_BATCH = 200
# While stores keep coming the writer keeps its pooled connection (no checkout, and no
# rollback-on-return trip to the driver's thread, per batch), but only for this long at a
# time, so other units of work queueing for the same connection still get their turn.
HOLD_SECONDS = 0.05
_GATHER_TURNS = 4


class InboxWriter:
    """Stores events durably, many per transaction; see the module docstring."""

    def __init__(self, session_factory: SessionFactory, clock: Callable[[], datetime]) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self._queue: list[tuple[Event, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._insert: Inserter | None = None
        # Batches skip the ORM session when the factory is bound to an engine (it always is
        # outside tests): a session costs more CPU per batch than the rows themselves.
        bind = getattr(session_factory, "kw", {}).get("bind")
        self._engine = bind if isinstance(bind, AsyncEngine) else None

    async def store(self, event: Event) -> bool:
        """Store ``event``; False when it was already stored (a platform retry)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((event, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_batches())
        return await future

    async def _write_batches(self) -> None:
        while self._queue:
            if self._engine is None:
                batch = self._take_batch()
                self._answer(batch, await self._attempt(batch))
            else:
                await self._write_burst(self._engine)

    async def _write_burst(self, engine: AsyncEngine) -> None:
        """Write batches on one held connection while more keep arriving (within the hold).

        The last batch is answered only after the connection is back in the pool, so once
        every store has its answer no connection is left checked out (a clean shutdown can
        close the pool right after).
        """
        loop = asyncio.get_running_loop()
        until = loop.time() + HOLD_SECONDS
        batch: list[tuple[Event, asyncio.Future[bool]]] = []
        outcome: set[tuple[str, str]] | Exception | None = None
        try:
            async with inbox_inserter(engine) as insert:
                self._insert = insert
                while True:
                    await self._gather()
                    batch = self._take_batch()
                    outcome = await self._attempt(batch)
                    if isinstance(outcome, Exception) or not self._queue or loop.time() > until:
                        break  # a failed batch goes on with a fresh connection
                    self._answer(batch, outcome)
                    batch, outcome = [], None
        except Exception as err:
            if outcome is None:  # no connection: the batch that was next learns why
                batch = batch or self._take_batch()
                outcome = err
            # Otherwise the connection broke on its way back to the pool, after the batch
            # was written; the pool replaces it.
        finally:
            self._insert = None
        self._answer(batch, outcome)

    async def _gather(self) -> None:
        """Let requests the loop is already working on join the batch before it is written.

        Requests arrive in waves (a client sends its next ones as the last batch's acks
        reach it), and each takes a few loop turns from its bytes to its store. Writing as
        soon as the first one is queued would split a wave into many small transactions.
        """
        for _ in range(_GATHER_TURNS):
            queued = len(self._queue)
            if queued >= MAX_BATCH:
                return
            await asyncio.sleep(0)
            if len(self._queue) == queued:
                return

    def _take_batch(self) -> list[tuple[Event, asyncio.Future[bool]]]:
        batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        return batch

    async def _attempt(
        self, batch: list[tuple[Event, asyncio.Future[bool]]]
    ) -> set[tuple[str, str]] | Exception:
        try:
            return await self._write(batch)
        except Exception as err:  # every waiter of this batch learns it was not stored
            return err

    @staticmethod
    def _answer(
        batch: list[tuple[Event, asyncio.Future[bool]]],
        outcome: set[tuple[str, str]] | Exception | None,
    ) -> None:
        claimed: set[tuple[str, str]] = set()
        for event, future in batch:
            if future.done():
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
                continue
            key = (event.platform.value, event.event_id)
            # The same event twice in one batch: the first waiter owns it.
            future.set_result(outcome is not None and key in outcome and key not in claimed)
            claimed.add(key)

    async def _write(
        self, batch: list[tuple[Event, asyncio.Future[bool]]]
    ) -> set[tuple[str, str]]:
        unique = {(e.platform.value, e.event_id): e for e, _ in batch}
        rows = [(p, i, payload(e)) for (p, i), e in unique.items()]
        if self._insert is not None:
            return await self._insert(rows, self.clock())
        async with session_scope(self.session_factory) as session:
            return await record_events(session=session, events=rows, now=self.clock())


def payload(event: Event) -> dict[str, Any]:
    """``event.to_dict()``, built directly: ``dataclasses.asdict`` costs more than the insert.

    The stored form must stay what :meth:`Event.from_dict` reads; a test compares the two
    on an event with every field set, so a new field cannot be left out unnoticed.
    """
    action = event.action
    return {
        "platform": event.platform,
        "event_id": event.event_id,
        "kind": event.kind,
        "actor_id": event.actor_id,
        "conversation": {"id": event.conversation.id, "kind": event.conversation.kind},
        "text": event.text,
        "mentions": tuple(event.mentions),
        "attachments": tuple(
            {"kind": a.kind, "filename": a.filename, "ref": a.ref} for a in event.attachments
        ),
        "action": None
        if action is None
        else {
            "action_id": action.action_id,
            "params": dict(action.params),
            "card_key": action.card_key,
        },
        "reply_handle": dict(event.reply_handle),
    }
