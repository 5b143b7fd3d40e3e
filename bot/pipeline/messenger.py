"""The sending side: what an outbox row becomes, and the protocol each platform implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from cards.models import Card


@dataclass(frozen=True)
class OutboundMessage:
    outbox_id: int
    idempotency_key: str
    platform: str
    target_kind: str  # person | conversation
    target: str
    group: bool
    kind: str  # card | card_update
    card: Card
    reply_handle: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0  # earlier failed attempts at this row
    # kind "file": {"kind", "filename", "platform", "ref"} of a file the platform holds
    file: dict[str, str] = field(default_factory=dict)


class Messenger(Protocol):
    async def deliver(self, message: OutboundMessage) -> None:
        """Send one message; raise to have the outbox retry it later."""


# What became of one message of a batch: None (delivered) or the error ``deliver`` would raise.
Outcome = Exception | None


@runtime_checkable
class BatchMessenger(Protocol):
    async def deliver_batch(self, messages: Sequence[OutboundMessage]) -> list[Outcome]:
        """Send one content to many people in as few calls as the platform allows.

        Returns one outcome per message, in order, so each row is settled (and retried) on
        its own: an invalid user or a throttled one never holds back the others.
        """
        ...


async def deliver_each(messenger: Messenger, messages: Sequence[OutboundMessage]) -> list[Outcome]:
    """One call per message: what a batch becomes where the platform cannot batch it."""
    outcomes: list[Outcome] = []
    for message in messages:
        try:
            await messenger.deliver(message)
        except Exception as err:
            outcomes.append(err)
        else:
            outcomes.append(None)
    return outcomes


class TransientDeliveryError(Exception):
    """The platform said "later" (throttled, 5xx, timeout): retry with backoff.

    ``retry_after`` (seconds) means we held the message back ourselves (a rate limit we keep):
    it is re-queued for then and the wait does not count as a failed attempt.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class RecordingMessenger:
    """Keeps what would have been sent, per recipient, with card updates applied in place."""

    sent: list[OutboundMessage] = field(default_factory=list)
    # (platform, target) -> cards in arrival order; an update replaces the card with its key
    inboxes: dict[tuple[str, str], list[Card]] = field(default_factory=dict)

    async def deliver(self, message: OutboundMessage) -> None:
        self.sent.append(message)
        box = self.inboxes.setdefault((message.platform, message.target), [])
        if message.kind == "card_update" and message.card.key:
            for index, card in enumerate(box):
                if card.key == message.card.key:
                    box[index] = message.card
                    return
        box.append(message.card)

    def cards_for(self, platform: str, target: str) -> list[Card]:
        return list(self.inboxes.get((platform, target), []))


@dataclass
class PlatformMessengers:
    """Routes each message to the messenger of its platform."""

    by_platform: dict[str, Messenger] = field(default_factory=dict)

    async def deliver(self, message: OutboundMessage) -> None:
        messenger = self.by_platform.get(message.platform)
        if messenger is None:
            raise LookupError(f"no messenger for platform {message.platform!r}")
        await messenger.deliver(message)

    async def deliver_batch(self, messages: Sequence[OutboundMessage]) -> list[Outcome]:
        """Messages of one platform with one content; batched where the messenger can."""
        messenger = self.by_platform.get(messages[0].platform) if messages else None
        if messenger is None:
            return [LookupError(f"no messenger for platform {m.platform!r}") for m in messages]
        if isinstance(messenger, BatchMessenger):
            return await messenger.deliver_batch(messages)
        return await deliver_each(messenger, messages)
