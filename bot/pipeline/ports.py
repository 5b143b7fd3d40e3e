"""What the platform adapters keep between calls, as ports the assembly fills in.

An adapter remembers where a card went (to update it in place), counts metered API calls,
records what WeCom said about a new contact or a recall message, and reads the picture of a
chart. It does all of that through these protocols, given to it at assembly time
(``bot.serve.stores`` implements them on the database), so no adapter knows a table, a
session or a transaction, and a test can hand it a plain in-memory stand-in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class CardRecord:
    """The newest instance of one card shown to one recipient on one platform."""

    platform_ref: str  # DingTalk outTrackId or to-do id, WeCom task_id
    response_code: str  # WeCom: the newest single-use code for update_template_card
    updated_at: datetime


class CardInstanceStore(Protocol):
    """Where each card went, so a later update replaces it instead of sending it anew."""

    async def get_card_instance(
        self, *, card_key: str, platform: str, recipient: str
    ) -> CardRecord | None: ...

    async def save_card_instance(
        self,
        *,
        card_key: str,
        platform: str,
        recipient: str,
        platform_ref: str,
        response_code: str,
        now: datetime | None = None,
    ) -> None:
        """Insert or replace the instance; ``now`` None means the current time."""
        ...

    async def clear_response_code(
        self, *, card_key: str, platform: str, recipient: str, response_code: str
    ) -> bool:
        """Forget a used code; a newer one saved meanwhile stays. True when it was cleared."""
        ...

    async def remember_response_code(
        self,
        *,
        platform: str,
        recipient: str,
        card_key: str | None,
        platform_ref: str,
        response_code: str,
        now: datetime,
    ) -> str | None:
        """Keep a click's fresh response code for (card, recipient), in one transaction.

        A click whose card key could not be read from the wire (``card_key`` None) is matched
        to the card by the platform's handle (``platform_ref``). Nothing is saved without a
        code. Returns the card key (None: no card has that handle).
        """
        ...


class ApiCallCounter(Protocol):
    """Counts the API calls a platform meters against a monthly quota."""

    async def count_api_call(self, *, platform: str, now: datetime) -> None:
        """Add one call to the month ``now`` falls in (in the platform's own time zone)."""
        ...


class ContactLookupRecorder(Protocol):
    """Keeps what the platform said about a new external contact, for a clock job to apply."""

    async def record_contact_lookup(
        self, *, external_userid: str, employee_userid: str, mobiles: Sequence[str],
        now: datetime,
    ) -> None: ...


class ChartLoader(Protocol):
    """The picture (PNG) a card refers to by ``Card.image``."""

    async def load_chart(self, ref: str) -> bytes | None:
        """None when the reference is unknown or the picture was pruned."""
        ...


@dataclass(frozen=True)
class RecallDeliveryRecord:
    """What the platform said so far about one recall message (a WeCom mass-send task)."""

    status: str  # created | sent | not_friend | limited | failed | unconfirmed
    msgid: str
    sender: str
    created_at: datetime


class RecallDeliveryStore(Protocol):
    """The platform's side of recall messages; the recall job applies final statuses."""

    async def get_recall_delivery(
        self, *, contact_id: int, platform: str
    ) -> RecallDeliveryRecord | None: ...

    async def record_recall_delivery(
        self,
        *,
        contact_id: int,
        platform: str,
        status: str,
        now: datetime,
        msgid: str | None = None,
        sender: str | None = None,
        send_time: datetime | None = None,
        error: str = "",
    ) -> None:
        """Insert or update; ``msgid``/``sender`` None keeps what is stored."""
        ...


class PlatformStores(
    CardInstanceStore,
    ApiCallCounter,
    ContactLookupRecorder,
    ChartLoader,
    RecallDeliveryStore,
    Protocol,
):
    """Everything the adapters of one bot persist, handed over as one object."""
