"""DingTalk to-dos (待办) for steps that wait on someone: opened with the step, done after it.

A to-do is created once per ``sourceId`` (our key for one entry into a step). Its DingTalk id
is kept in ``CardInstance`` (card key = source id, recipient = unionId) so closing it costs
one call; if that row is missing (a crash between create and save), the id is looked up by
``sourceId``. A close that finds no to-do at all means the create has not gone out yet: it is
retried by the outbox rather than dropped, so no to-do stays open forever.

Source: https://open.dingtalk.com/document/development/add-dingtalk-to-do-task
"""

from __future__ import annotations

from bot.adapters.dingtalk.api_errors import PLATFORM
from bot.adapters.dingtalk.client import DingTalkClient
from bot.core.errors import PlatformError
from bot.pipeline.messenger import OutboundMessage, TransientDeliveryError
from bot.pipeline.ports import CardInstanceStore

TASK_KINDS = frozenset({"task_open", "task_done"})


class DingTalkTodos:
    """Delivers ``task_open`` / ``task_done`` outbox rows as DingTalk to-dos."""

    def __init__(
        self, client: DingTalkClient, cards: CardInstanceStore, detail_url: str
    ) -> None:
        """Args:
        client: The OpenAPI client.
        cards: Where to-do ids are kept between open and done.
        detail_url: Where tapping the to-do leads (``detailUrl``, required by DingTalk).
        """
        self.client = client
        self.cards = cards
        self.detail_url = detail_url

    async def deliver(self, message: OutboundMessage) -> None:
        """Open or complete the to-do ``message.card.key`` of unionId ``message.target``.

        Raises:
            TransientDeliveryError: Throttled, or closing a to-do not created yet.
            PlatformError: No detail URL configured, or DingTalk refused.
        """
        source_id = message.card.key
        if not source_id:
            raise PlatformError(PLATFORM, "no_task_key", "a to-do needs a card key")
        if message.kind == "task_open":
            await self._open(message, source_id)
        elif message.kind == "task_done":
            await self._done(message.target, source_id)
        else:
            raise PlatformError(PLATFORM, "unknown_kind", message.kind)

    async def _open(self, message: OutboundMessage, source_id: str) -> None:
        if not self.detail_url:
            raise PlatformError(PLATFORM, "no_todo_url", "set [dingtalk] todo_url")
        union_id = message.target
        if await self._known_id(union_id, source_id):
            return  # a resend after the answer was lost: it exists already
        task_id = await self.client.create_todo(
            union_id=union_id,
            subject=message.card.title,
            source_id=source_id,
            app_url=self.detail_url,
            description=message.card.body,
        )
        await self._remember(union_id, source_id, task_id)

    async def _done(self, union_id: str, source_id: str) -> None:
        task_id = await self._known_id(union_id, source_id)
        if task_id is None:
            task_id = await self.client.find_todo_by_source(union_id, source_id)
            if task_id is None:
                raise TransientDeliveryError(f"dingtalk to-do {source_id}: not created yet")
            await self._remember(union_id, source_id, task_id)
        await self.client.complete_todo(union_id, task_id)

    async def _known_id(self, union_id: str, source_id: str) -> str | None:
        row = await self.cards.get_card_instance(
            card_key=source_id, platform=PLATFORM, recipient=union_id
        )
        return row.platform_ref if row is not None and row.platform_ref else None

    async def _remember(self, union_id: str, source_id: str, task_id: str) -> None:
        await self.cards.save_card_instance(
            card_key=source_id, platform=PLATFORM,
            recipient=union_id, platform_ref=task_id, response_code="",
        )
