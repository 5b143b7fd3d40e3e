"""The durable clock: claim due items, run their job, mark them done, in one transaction each.

APScheduler only says "now" every few seconds (bot/pipeline/runtime.py); what is due lives in the
``due_item`` table, so restarts lose nothing and replicas never run an item twice: a claim
is an atomic UPDATE, and the job's effects commit together with the item's ``done_at`` only
if the claim is still ours.
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta

from bot.core.context import JobContext, Settings
from bot.pipeline.outgoing import enqueue_outgoing
from storage.db import SessionFactory, session_scope
from storage.models import DueItem
from storage.repo.due import (
    claim_due_items,
    finish_due_item,
    release_due_item,
)

log = logging.getLogger("hrbot.scheduler")

DueHandler = Callable[[JobContext, DueItem], Awaitable[None]]
MAX_ATTEMPTS = 5


def replica_id() -> str:
    return f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


class DueRunner:
    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        handlers: Mapping[str, DueHandler],
        settings: Settings,
        owner: str | None = None,
        clock: Callable[[], datetime] | None = None,
        lease: timedelta = timedelta(seconds=60),
        batch: int = 100,
    ) -> None:
        self.session_factory = session_factory
        self.handlers = dict(handlers)
        self.settings = settings
        self.owner = owner or replica_id()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.lease = lease
        self.batch = batch
        # Set by Runtime.stop: finish the claimed batch, claim no more (other replicas will).
        self.stopping = False

    async def sweep(self) -> int:
        """Run everything due now; returns how many items this replica completed."""
        completed = 0
        while not self.stopping:
            claimed, done = await self.sweep_batch()
            completed += done
            if claimed < self.batch:
                break
        return completed

    async def sweep_batch(self) -> tuple[int, int]:
        """Claim up to ``batch`` due items and run them; returns (claimed, completed)."""
        async with session_scope(self.session_factory) as session:
            ids = await claim_due_items(
                session=session,
                now=self.clock(),
                owner=self.owner,
                lease=self.lease,
                limit=self.batch,
            )
        completed = 0
        for item_id in ids:
            completed += await self.run_item(item_id)
        return len(ids), completed

    async def run_item(self, item_id: int) -> int:
        now = self.clock()
        async with self.session_factory() as session:
            item = await session.get(DueItem, item_id)
            if item is None or not await finish_due_item(
                session=session, item_id=item_id, owner=self.owner, now=now
            ):
                await session.rollback()
                return 0
            # Read before the handler runs: a rollback expires the loaded row.
            attempts, kind = item.attempts, item.kind
            job = JobContext(session=session, now=now, settings=self.settings)
            try:
                async with session.begin_nested():
                    handler = self.handlers.get(kind)
                    if handler is None:
                        raise LookupError(f"no handler for due item kind {kind!r}")
                    await handler(job, item)
            except Exception as err:
                log.exception("due item %s (%s) failed", item_id, kind)
                await session.rollback()
                await self._failed(item_id, attempts, now, repr(err))
                return 0
            await enqueue_outgoing(
                session,
                job.outgoing,
                key_prefix=f"due:{item_id}",
                platforms=self.settings.platforms,
                now=now,
                task_platforms=self.settings.task_platforms,
                bulk=True,
            )
            await session.commit()
        return 1

    async def _failed(self, item_id: int, attempts: int, now: datetime, error: str) -> None:
        async with session_scope(self.session_factory) as session:
            if attempts >= MAX_ATTEMPTS:
                await finish_due_item(
                    session=session, item_id=item_id, owner=self.owner, now=now, error=error
                )
            else:
                retry_at = now + timedelta(seconds=30 * 2**attempts)
                await release_due_item(
                    session=session,
                    item_id=item_id,
                    owner=self.owner,
                    retry_at=retry_at,
                    error=error,
                )
