"""Outbox worker: sends what committed transactions queued, at most once per row."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.core.log import outbox_log
from bot.core.metrics import count_platform_error, error_code
from bot.pipeline.messenger import (
    BatchMessenger,
    Messenger,
    OutboundMessage,
    Outcome,
    PlatformMessengers,
    TransientDeliveryError,
    deliver_each,
)
from cards.models import Card
from storage.db import SessionFactory, session_scope
from storage.repo.outbox import (
    claim_messages,
    hold_message,
    mark_message_failed,
    mark_message_sent,
)

# With the backoff below (2 s doubling, capped at 10 min) 16 attempts span about 85 minutes:
# a platform outage of that long delays messages; only a longer one fails them (HR is told).
MAX_ATTEMPTS = 16
# Rows claimed at a time; one content to many people batches within a claim.
CLAIM_SIZE = 100


def backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(600, 2**attempt))


def batches_of(messages: list[OutboundMessage]) -> list[list[OutboundMessage]]:
    """Claimed messages grouped for sending, in claim order: one content to many people
    (no buttons, no card key, no picture or file, to a person) goes as one batch per
    platform; everything else goes on its own."""
    batches: list[list[OutboundMessage]] = []
    open_batches: dict[tuple[str, str], list[OutboundMessage]] = {}
    for message in messages:
        card = message.card
        if (message.kind != "card" or message.target_kind != "person" or message.group
                or card.buttons or card.key or card.image or message.file):
            batches.append([message])
            continue
        content = json.dumps(card.to_dict(), sort_keys=True, ensure_ascii=False)
        batch = open_batches.get((message.platform, content))
        if batch is None:
            batch = open_batches[(message.platform, content)] = []
            batches.append(batch)
        batch.append(message)
    return batches


class OutboxWorker:
    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        messenger: Messenger,
        clock: Callable[[], datetime] | None = None,
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        self.session_factory = session_factory
        self.messenger = messenger
        self.clock = clock or (lambda: datetime.now(UTC))
        self.lease = lease
        # Set by Runtime.stop: finish the claimed batch, claim no more (other replicas will).
        self.stopping = False

    async def drain(self, limit: int = CLAIM_SIZE) -> int:
        """Send every due row; returns how many were sent."""
        sent = 0
        while not self.stopping:
            messages = await self._claim(limit)
            if not messages:
                break
            sent += await self._send_claimed(messages)
        return sent

    async def _claim(self, limit: int) -> list[OutboundMessage]:
        async with session_scope(self.session_factory) as session:
            rows = await claim_messages(
                session=session, now=self.clock(), lease=self.lease, limit=limit,
            )
        messages = []
        for row in rows:
            assert row.id is not None
            messages.append(OutboundMessage(
                outbox_id=row.id,
                idempotency_key=row.idempotency_key,
                platform=row.platform,
                target_kind=row.target_kind,
                target=row.target,
                group=row.group,
                kind=row.kind,
                card=Card.from_dict(row.payload["card"]),
                reply_handle=row.payload.get("reply_handle", {}),
                attempts=row.attempts,
                file=row.payload.get("file", {}),
            ))
        return messages

    async def _send_claimed(self, messages: list[OutboundMessage]) -> int:
        """Send a claimed batch in its order; one content to many people goes as one batch."""
        sent = 0
        for batch in batches_of(messages):
            sent += await self._send_batch(batch)
        return sent

    async def _send_batch(self, batch: list[OutboundMessage]) -> int:
        if len(batch) == 1:
            return await self._send(batch[0], batch[0].attempts)
        try:
            outcomes = await self._deliver_batch(batch)
        except Exception as err:
            outcomes = [err] * len(batch)
        sent = 0
        for message, outcome in zip(batch, outcomes, strict=True):
            sent += await self._settle(message, message.attempts, outcome)
        return sent

    async def _deliver_batch(self, batch: list[OutboundMessage]) -> list[Outcome]:
        if isinstance(self.messenger, PlatformMessengers | BatchMessenger):
            return await self.messenger.deliver_batch(batch)
        return await deliver_each(self.messenger, batch)

    async def _send(self, message: OutboundMessage, attempts: int) -> int:
        try:
            await self.messenger.deliver(message)
        except Exception as err:
            return await self._settle(message, attempts, err)
        return await self._settle(message, attempts, None)

    async def _settle(self, message: OutboundMessage, attempts: int, outcome: Outcome) -> int:
        """Record what became of one message: sent, held back, retried later or failed."""
        if isinstance(outcome, TransientDeliveryError):
            if outcome.retry_after is not None:
                # Held back by our own rate limit: no platform error happened.
                await self._held_back(message.outbox_id, str(outcome), outcome.retry_after)
                return 0
            count_platform_error(message.platform, error_code(outcome))
            retry = backoff(attempts) if attempts + 1 < MAX_ATTEMPTS else None
            await self._failed(message.outbox_id, str(outcome), retry)
            return 0
        if outcome is not None:
            count_platform_error(message.platform, error_code(outcome))
            outbox_log.error(
                "delivery failed for outbox=%s", message.outbox_id, exc_info=outcome
            )
            await self._failed(message.outbox_id, repr(outcome), None)
            return 0
        async with session_scope(self.session_factory) as session:
            await mark_message_sent(session=session, row_id=message.outbox_id, now=self.clock())
        return 1

    async def _held_back(self, row_id: int, reason: str, seconds: float) -> None:
        async with session_scope(self.session_factory) as session:
            await hold_message(
                session=session,
                row_id=row_id,
                until=self.clock() + timedelta(seconds=seconds),
                reason=reason,
            )

    async def _failed(self, row_id: int, error: str, retry: timedelta | None) -> None:
        async with session_scope(self.session_factory) as session:
            await mark_message_failed(
                session=session, row_id=row_id, now=self.clock(), error=error, retry_in=retry
            )
