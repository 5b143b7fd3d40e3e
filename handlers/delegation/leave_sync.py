"""Leave recorded on a chat platform (DingTalk attendance) becomes time away in the bot.

Runs as one of the clock's recurring jobs, at most every ``every``: it asks the platform
which people of the directory are on leave in the coming weeks and records each leave as
an away period (escalations skip people away). It never names delegates: handing tasks over
stays an explicit ``委托``. A platform error is logged and tried again next time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core.context import JobContext
from bot.core.errors import PlatformError
from bot.pipeline.directory import LeaveSpan
from bot.pipeline.messenger import TransientDeliveryError
from storage.repo.delegation import (
    cancel_away_period,
    list_platform_periods,
    record_platform_leave,
)
from storage.repo.people import list_people, platform_address

log = logging.getLogger("hrbot.scheduler")


LeaveFetch = Callable[[Sequence[str], datetime, datetime], Awaitable[Sequence[LeaveSpan]]]


@dataclass
class PlatformLeaveSync:
    platform: str
    fetch: LeaveFetch
    every: timedelta = timedelta(minutes=30)
    horizon: timedelta = timedelta(days=30)
    _last: datetime | None = field(default=None, init=False)

    async def __call__(self, job: JobContext) -> int:
        """Sync if it is time; returns how many new leaves were recorded."""
        if self._last is not None and job.now - self._last < self.every:
            return 0
        self._last = job.now
        people = {
            address: person
            for person in await list_people(session=job.session)
            if person.active and (address := platform_address(person, self.platform))
        }
        if not people:
            return 0
        try:
            spans = await self.fetch(list(people), job.now - timedelta(days=1),
                                     job.now + self.horizon)
        except (PlatformError, TransientDeliveryError) as err:
            log.warning("%s leave sync failed: %s", self.platform, err)
            return 0
        created, seen = 0, set()
        for span in spans:
            person = people.get(span.user_id)
            if person is None or person.id is None:
                continue
            seen.add(span.ref)
            created += await record_platform_leave(
                session=job.session, source=self.platform, person_id=person.id,
                external_ref=span.ref, starts_at=span.start, ends_at=span.end, now=job.now,
            )
        # A leave withdrawn on the platform no longer shows up: forget it if not begun yet.
        for period in await list_platform_periods(
            session=job.session, source=self.platform, now=job.now
        ):
            if period.external_ref not in seen and period.starts_at > job.now:
                await cancel_away_period(session=job.session, period=period, now=job.now)
        return created
