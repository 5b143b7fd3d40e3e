"""The adapters' ports (``bot.pipeline.ports``) on the database: one unit of work per call.

Built by the assembly from the session factory and handed to the adapters, which thereby
persist without importing storage.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.pipeline.ports import CardRecord, RecallDeliveryRecord
from storage.db import SessionFactory, session_scope
from storage.repo import cards, contact_lookups, insight_settings, recall_delivery, usage


class DatabaseStores:
    """Implements :class:`~bot.pipeline.ports.PlatformStores` with ``storage.repo``."""

    def __init__(self, session_factory: SessionFactory) -> None:
        self.session_factory = session_factory

    async def get_card_instance(
        self, *, card_key: str, platform: str, recipient: str
    ) -> CardRecord | None:
        async with session_scope(self.session_factory) as session:
            row = await cards.get_card_instance(
                session=session, card_key=card_key, platform=platform, recipient=recipient
            )
            if row is None:
                return None
            return CardRecord(row.platform_ref, row.response_code, row.updated_at)

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
        async with session_scope(self.session_factory) as session:
            await cards.save_card_instance(
                session=session, card_key=card_key, platform=platform, recipient=recipient,
                platform_ref=platform_ref, response_code=response_code, now=now,
            )

    async def clear_response_code(
        self, *, card_key: str, platform: str, recipient: str, response_code: str
    ) -> bool:
        async with session_scope(self.session_factory) as session:
            return await cards.clear_response_code(
                session=session, card_key=card_key, platform=platform, recipient=recipient,
                response_code=response_code,
            )

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
        async with session_scope(self.session_factory) as session:
            if card_key is None:
                row = await cards.find_card_instance_by_ref(
                    session=session, platform=platform, platform_ref=platform_ref,
                    recipient=recipient,
                )
                card_key = row.card_key if row is not None else None
            if card_key is not None and response_code:
                await cards.set_response_code(
                    session=session, card_key=card_key, platform=platform, recipient=recipient,
                    response_code=response_code, platform_ref=platform_ref, now=now,
                )
            return card_key

    async def count_api_call(self, *, platform: str, now: datetime) -> None:
        async with session_scope(self.session_factory) as session:
            await usage.add_api_calls(
                session=session, platform=platform, period=usage.usage_period(now), calls=1,
                now=now,
            )

    async def record_contact_lookup(
        self, *, external_userid: str, employee_userid: str, mobiles: Sequence[str],
        now: datetime,
    ) -> None:
        async with session_scope(self.session_factory) as session:
            await contact_lookups.record_lookup(
                session=session, external_userid=external_userid,
                employee_userid=employee_userid, mobiles=mobiles, now=now,
            )

    async def load_chart(self, ref: str) -> bytes | None:
        # A read: no transaction to commit.
        async with self.session_factory() as session:
            return await insight_settings.load_chart(session=session, ref=ref)

    async def get_recall_delivery(
        self, *, contact_id: int, platform: str
    ) -> RecallDeliveryRecord | None:
        async with session_scope(self.session_factory) as session:
            row = await recall_delivery.get_recall_delivery(
                session=session, contact_id=contact_id, platform=platform
            )
            if row is None:
                return None
            return RecallDeliveryRecord(row.status, row.msgid, row.sender, row.created_at)

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
        async with session_scope(self.session_factory) as session:
            await recall_delivery.record_recall_delivery(
                session=session, contact_id=contact_id, platform=platform, status=status,
                now=now, msgid=msgid, sender=sender, send_time=send_time, error=error,
            )
