"""The bot's heartbeat: every few seconds, schedule what recurs, run what is due, send what
is queued. APScheduler's AsyncIOScheduler is only the metronome; all state is in the DB."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.core.context import JobContext
from bot.pipeline.clock import DueRunner
from bot.pipeline.outbox import OutboxWorker
from storage.db import session_scope

log = logging.getLogger("hrbot.scheduler")

Recurring = Callable[[JobContext], Awaitable[object]]
# Handles inbox events received longer ago than the given age and not handled yet.
Redeliver = Callable[[timedelta], Awaitable[int]]
# An event this young may still be in flight in a live process: redelivery waits this long.
REDELIVERY_GRACE = timedelta(seconds=60)


class Runtime:
    def __init__(
        self,
        *,
        runner: DueRunner,
        outbox: OutboxWorker,
        recurring: tuple[Recurring, ...] = (),
        redeliver: Redeliver | None = None,
        sweep_seconds: float = 5,
    ) -> None:
        self.redeliver = redeliver
        self.runner = runner
        self.outbox = outbox
        self.recurring = recurring
        self.sweep_seconds = sweep_seconds
        self.scheduler: AsyncIOScheduler | None = None
        self._tick: asyncio.Task[None] | None = None
        # Set by start(): events stored before it were stored by a process that is gone
        # (this one had not started), so the first beat takes them without the grace.
        self._started_at: datetime | None = None

    async def tick(self) -> None:
        """One beat: recurring items scheduled, stranded events handled, due items run,
        queued messages sent."""
        runner = self.runner
        async with session_scope(runner.session_factory) as session:
            job = JobContext(session=session, now=runner.clock(), settings=runner.settings)
            for schedule in self.recurring:
                await schedule(job)
        if self.redeliver is not None:
            if self._started_at is not None:
                orphaned_before, self._started_at = self._started_at, None
                await self.redeliver(max(timedelta(0), runner.clock() - orphaned_before))
            await self.redeliver(REDELIVERY_GRACE)
        # A batch of due items, then what it queued: with more due than a beat can run, the
        # sends would otherwise wait until the backlog clears.
        while not runner.stopping:
            claimed, _ = await runner.sweep_batch()
            await self.outbox.drain()
            if claimed < runner.batch:
                break

    async def _beat(self) -> None:
        # Shielded so a shutdown lets the current beat finish its sends and commits.
        self._tick = asyncio.ensure_future(self.tick())
        try:
            await asyncio.shield(self._tick)
        except Exception:
            log.exception("clock tick failed")

    def start(self) -> None:
        tz = ZoneInfo(self.runner.settings.timezone)
        self.runner.stopping = self.outbox.stopping = False
        self._started_at = self.runner.clock()
        self.scheduler = AsyncIOScheduler(timezone=tz)
        self.scheduler.add_job(
            self._beat,
            "interval",
            seconds=self.sweep_seconds,
            id="sweep",
            max_instances=1,
            coalesce=True,
            replace_existing=True,
            # The first beat at once: after a crash, what was stored waits for nobody.
            next_run_time=datetime.now(tz),
        )
        self.scheduler.start()

    async def stop(self) -> None:
        """Stop the metronome, then wait for the beat in flight: nothing claimed is lost.

        The beat finishes the due items and messages it has claimed but claims no more, so a
        replica with a backlog stops in one batch, not after the whole backlog.
        """
        self.runner.stopping = True
        self.outbox.stopping = True
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        if self._tick is not None and not self._tick.done():
            await asyncio.wait({self._tick})
