"""Outbox worker: sends what committed transactions queued, at most once per row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.core.log import outbox_log
from bot.core.metrics import count_platform_error, error_code
from bot.pipeline.messenger import Messenger, OutboundMessage, TransientDeliveryError
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


def backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(600, 2**attempt))


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

    async def drain(self, limit: int = 100) -> int:
        """Send every due row; returns how many were sent."""
        sent = 0
        while not self.stopping:
            async with session_scope(self.session_factory) as session:
                rows = await claim_messages(
                    session=session, now=self.clock(), lease=self.lease, limit=limit
                )
                claimed = [(row.id, row) for row in rows]
            if not claimed:
                break
            for row_id, row in claimed:
                assert row_id is not None
                message = OutboundMessage(
                    outbox_id=row_id,
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
                )
                sent += await self._send(message, row.attempts)
        return sent

    async def _send(self, message: OutboundMessage, attempts: int) -> int:
        try:
            await self.messenger.deliver(message)
        except TransientDeliveryError as err:
            if err.retry_after is not None:
                # Held back by our own rate limit: no platform error happened.
                await self._held_back(message.outbox_id, str(err), err.retry_after)
                return 0
            count_platform_error(message.platform, error_code(err))
            retry = backoff(attempts) if attempts + 1 < MAX_ATTEMPTS else None
            await self._failed(message.outbox_id, str(err), retry)
            return 0
        except Exception as err:
            count_platform_error(message.platform, error_code(err))
            outbox_log.exception("delivery failed for outbox=%s", message.outbox_id)
            await self._failed(message.outbox_id, repr(err), None)
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
