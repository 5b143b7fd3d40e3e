"""The directory sync: read every platform in full, plan, then write all of it or nothing.

Platforms are read before anything is written, so an error mid-read (a refused call, a
partial page, a timeout) leaves the directory as it was. The caller's transaction holds
every write; the CLI and the nightly job commit it once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core.context import JobContext
from bot.core.errors import PlatformError
from bot.pipeline.directory import OrgSnapshot
from bot.pipeline.messenger import TransientDeliveryError
from bot.pipeline.outgoing import enqueue_outgoing
from handlers.admin.directory_apply import SyncOutcome, apply_plan
from handlers.admin.directory_plan import make_plan
from storage.repo.people import list_people

log = logging.getLogger("hrbot.scheduler")

FetchOrg = Callable[[], Awaitable[OrgSnapshot]]


@dataclass(frozen=True)
class SyncPolicy:
    """The ``[directory]`` settings the sync rules need."""

    rules: Mapping[str, tuple[str, ...]]
    match_by: str = "mobile"
    max_deactivate_share: float = 0.1


async def read_all(sources: Mapping[str, FetchOrg]) -> list[OrgSnapshot]:
    """Read every platform in full before anything is written.

    Raises:
        PlatformError: A platform refused a read or answered nonsense.
        TransientDeliveryError: A platform stayed unreachable.
    """
    return [await fetch() for fetch in sources.values()]


async def sync_snapshots(
    job: JobContext, snapshots: list[OrgSnapshot], policy: SyncPolicy, *,
    force: bool = False, dry_run: bool = False, actor: str = "system:directory",
) -> SyncOutcome:
    """Plan ``snapshots`` against the directory and apply the plan in ``job``'s session."""
    people = await list_people(session=job.session)
    plan = make_plan(snapshots, people, match_by=policy.match_by, rules=policy.rules)
    return await apply_plan(job, plan, max_share=policy.max_deactivate_share, force=force,
                            dry_run=dry_run, actor=actor)


async def send_outgoing(job: JobContext, key: str) -> None:
    """Queue what the sync has to tell (moved tasks), in its transaction."""
    await enqueue_outgoing(
        job.session, job.outgoing, key_prefix=key, platforms=job.settings.platforms,
        now=job.now, task_platforms=job.settings.task_platforms,
    )
    job.outgoing.clear()


@dataclass
class NightlySync:
    """A clock job: one full sync a day at ``at`` (local time), once ``sources`` are set.

    The serve assembly sets ``sources`` and ``policy`` from the configuration; until then
    (the CLI, tests, a bot without platforms) the job does nothing. A failed read is logged
    and tried again the next beat after an hour; a blocked sync is logged and waits for an
    admin (``hrbot directory sync --force``).
    """

    at: time = time(2, 30)
    timezone: str = "Asia/Shanghai"
    sources: dict[str, FetchOrg] = field(default_factory=dict)
    policy: SyncPolicy | None = None
    last_day: str = ""
    retry_after: datetime | None = None
    # Start or last run: a whole day after it the sync is due whatever the hour (a clock
    # moved a day ahead in the sandbox at 01:00 would otherwise never reach 02:30).
    last_run: datetime | None = None

    def configure(self, sources: Mapping[str, FetchOrg], policy: SyncPolicy, at: time,
                  timezone: str, now: datetime) -> None:
        """Give the job its platforms; a bot started after the hour waits for the next
        night rather than syncing at start."""
        self.sources, self.policy, self.at, self.timezone = dict(sources), policy, at, timezone
        local = now.astimezone(ZoneInfo(timezone))
        self.last_day = local.date().isoformat() if local.time() >= at else ""
        self.retry_after, self.last_run = None, now

    def reset(self) -> None:
        """Forget the platforms (the bot that configured them stopped)."""
        self.sources, self.policy, self.last_run = {}, None, None

    async def __call__(self, job: JobContext) -> SyncOutcome | None:
        if not self.sources or self.policy is None:
            return None
        local = job.now.astimezone(ZoneInfo(self.timezone))
        day = local.date().isoformat()
        whole_day = self.last_run is not None and job.now - self.last_run >= timedelta(days=1)
        if not whole_day and (day == self.last_day or local.time() < self.at):
            return None
        if self.retry_after is not None and job.now < self.retry_after:
            return None
        try:
            snapshots = await read_all(self.sources)
        except (PlatformError, TransientDeliveryError) as err:
            self.retry_after = job.now + timedelta(hours=1)
            log.warning("nightly directory sync failed, nothing changed: %s", err)
            return None
        except Exception:  # a clock job must not take the beat down with it
            self.retry_after = job.now + timedelta(hours=1)
            log.exception("nightly directory sync failed, nothing changed")
            return None
        async with job.session.begin_nested():
            outcome = await sync_snapshots(job, snapshots, self.policy, actor="system:nightly")
            await send_outgoing(job, f"directory:{job.now.isoformat()}")
        self.last_day, self.retry_after, self.last_run = day, None, job.now
        if outcome.blocked:
            log.warning("nightly directory sync blocked (%s): %d leavers of %d, nothing changed",
                        outcome.blocked, len(outcome.plan.leavers), outcome.plan.synced_before)
        else:
            log.info("nightly directory sync: %d created, %d updated, %d deactivated",
                     outcome.created, outcome.updated, outcome.deactivated)
        return outcome


NIGHTLY = NightlySync()
