"""A send the platform refuses for good is reported to HR leads and admins once, with whom it
was for and the platform's reason; a report that fails itself is not reported again."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.cli.local_chat import LocalChat
from bot.core.errors import PlatformError
from bot.pipeline.messenger import OutboundMessage, RecordingMessenger
from storage.db import SessionFactory
from storage.models import Outbox, OutboxStatus
from tests._support import db
from tests._support.clock import FakeClock
from tests._support.referrals import submit


@dataclass
class RefusingSome:
    """Refuses everything for the given recipients, like a user outside the app's range."""

    inner: RecordingMessenger
    refused: set[str] = field(default_factory=set)

    async def deliver(self, message: OutboundMessage) -> None:
        if message.target in self.refused:
            raise PlatformError(message.platform, 60111, "invalid userid")
        await self.inner.deliver(message)


def reports(sent: list[OutboundMessage]) -> list[OutboundMessage]:
    return [m for m in sent if "未能送达" in m.card.title]


async def test_hr_leads_hear_of_a_task_card_that_could_not_be_delivered(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    chat.worker.messenger = RefusingSome(chat.messenger, {"E011"})
    await submit(chat)  # the review task for 李HR (E011) is refused
    failed = [r for r in await db.all_rows(demo, Outbox) if r.status == OutboxStatus.FAILED]
    assert [r.target for r in failed] == ["E011"]

    sent = reports(await chat.tick())
    assert sorted(m.target for m in sent) == ["E001", "E002"]
    card = sent[0].card
    assert card.title == "⚠️ 有 1 条消息未能送达"
    assert "发给 **李HR**" in card.body and "推荐审核 · 张三 · 店长" in card.body
    assert "invalid userid" in card.body
    # Reported once: a later report (say, of the morning digest E011 cannot get either)
    # does not name the review card again.
    for _ in range(3):
        for later in reports(await chat.tick()):
            assert "推荐审核 · 张三 · 店长" not in later.card.body


async def test_a_failed_report_is_not_reported_again(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    chat.worker.messenger = RefusingSome(chat.messenger, {"E011", "E001", "E002"})
    await submit(chat)
    await chat.tick()  # the report to the leads fails too
    rows = await db.all_rows(demo, Outbox)
    assert {r.target for r in rows if r.status == OutboxStatus.FAILED} >= {"E001", "E002"}
    await chat.tick()
    await chat.tick()
    rows = await db.all_rows(demo, Outbox)
    alerts = [r for r in rows if "未能送达" in r.payload["card"]["title"]]
    assert alerts
    # Reports of the review card (and of the digest E011 cannot get either), never of a report.
    assert not any("未能送达" in r.payload["card"]["body"] for r in alerts)
    assert all(r.reported_at is not None for r in await db.all_rows(demo, Outbox)
               if r.status == OutboxStatus.FAILED)
