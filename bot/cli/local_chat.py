"""In-process chat: people of the directory talk to the bot with no platform in between.

Drives the terminal chat (`hrbot shell`) and end-to-end tests: each `say`/`tap` goes through
the real dispatcher, transaction and outbox, and what would have been sent is recorded.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from bot.core.context import Settings
from bot.core.dispatch import Dispatcher, DispatchResult
from bot.core.events import CardAction, Conversation, ConversationKind, Event, EventKind, Platform
from bot.pipeline.clock import DueRunner
from bot.pipeline.messenger import OutboundMessage, RecordingMessenger
from bot.pipeline.outbox import OutboxWorker
from bot.pipeline.runtime import Runtime
from cards.models import Button, Card
from handlers.capabilities import REGISTRY
from storage.db import SessionFactory


class LocalChat:
    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        settings: Settings | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        # Everyone is reached in this chat, whatever platforms the deployment names.
        self.settings = replace(settings or Settings(), platforms=(Platform.SHELL,))
        self.messenger = RecordingMessenger()
        self.dispatcher = Dispatcher(
            session_factory=session_factory,
            routers=REGISTRY.routers,
            settings=self.settings,
            clock=self.clock,
            pending_input=REGISTRY.answer_pending,
            kind_handlers=REGISTRY.kind_handlers,
            fallback=REGISTRY.fallback,
        )
        self.worker = OutboxWorker(
            session_factory=session_factory, messenger=self.messenger, clock=self.clock
        )
        self.runtime = Runtime(
            runner=DueRunner(
                session_factory=session_factory,
                handlers=REGISTRY.due_handlers,
                settings=self.settings,
                clock=self.clock,
                owner="local",
            ),
            outbox=self.worker,
            recurring=REGISTRY.recurring,
            redeliver=self.dispatcher.redeliver,
        )
        # Unique across runs: the inbox remembers event ids, and a restarted shell on the
        # same database must not have its first messages taken for retries.
        self._run = uuid.uuid4().hex[:12]
        self._ids = itertools.count(1)
        self.last_result: DispatchResult | None = None

    async def feed(self, event: Event) -> list[OutboundMessage]:
        """Dispatch one event and send what it queued; returns those messages."""
        before = len(self.messenger.sent)
        self.last_result = await self.dispatcher.feed(event)
        await self.worker.drain()
        return self.messenger.sent[before:]

    async def tick(self) -> list[OutboundMessage]:
        """One clock beat at the current (fake) time; returns what it sent."""
        before = len(self.messenger.sent)
        await self.runtime.tick()
        return self.messenger.sent[before:]

    async def say(
        self, employee_no: str, text: str, *, group: str | None = None
    ) -> list[OutboundMessage]:
        conversation = (
            Conversation(id=f"group:{group}", kind=ConversationKind.GROUP)
            if group
            else Conversation(id=employee_no)
        )
        return await self.feed(
            Event(
                platform=Platform.SHELL,
                event_id=f"local-{self._run}-{next(self._ids)}",
                kind=EventKind.MESSAGE,
                actor_id=employee_no,
                conversation=conversation,
                text=text,
            )
        )

    async def tap(
        self, employee_no: str, card: Card, button: Button | str
    ) -> list[OutboundMessage]:
        """Tap a button (or the button whose label is ``button``) on a card."""
        if isinstance(button, str):
            matches = [b for b in card.buttons if b.label == button]
            if not matches:
                labels = [b.label for b in card.buttons]
                raise LookupError(f"no button {button!r} on card {card.title!r}: {labels}")
            button = matches[0]
        return await self.feed(
            Event(
                platform=Platform.SHELL,
                event_id=f"local-{self._run}-{next(self._ids)}",
                kind=EventKind.CARD_ACTION,
                actor_id=employee_no,
                conversation=Conversation(id=employee_no),
                action=CardAction(
                    action_id=button.action, params=dict(button.params), card_key=card.key
                ),
            )
        )

    def inbox(self, employee_no: str) -> list[Card]:
        """Every card in this person's chat with the bot, updates applied."""
        return self.messenger.cards_for(Platform.SHELL, employee_no)

    def group(self, name: str) -> list[Card]:
        return self.messenger.cards_for(Platform.SHELL, f"group:{name}")
