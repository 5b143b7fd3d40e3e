"""Personal data outside the candidate's own rows: what people typed and what the bot sent.

Inbox and outbox payloads, half-typed referrals and WeCom contact lookups quote phones,
emails and names verbatim. Erasure scrubs them by value (they carry no candidate id), and the
retention window empties the payloads once no redelivery or resend can need them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, update
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ContactLookup, Inbox, Outbox, OutboxStatus, PendingInput, ReferralDraft

# What a scrubbed value becomes: still readable as "something was here" in a delivery report.
SCRUBBED = "***"
# Rows are read in pages so an erasure over a large inbox keeps memory flat.
_PAGE = 500


@dataclass
class ScrubCount:
    """Rows changed per table, for the erasure's audit record."""

    rows: dict[str, int] = field(default_factory=dict)

    def add(self, table: str) -> None:
        self.rows[table] = self.rows.get(table, 0) + 1


def _needles(values: Iterable[str | None]) -> tuple[str, ...]:
    # Longest first, so a name inside an email is not cut before the email is.
    return tuple(sorted({v for v in values if v and len(v) >= 2}, key=len, reverse=True))


def scrub_values(value: Any, values: Iterable[str | None]) -> Any:
    """``value`` (JSON-like) with every occurrence of ``values`` replaced by ``SCRUBBED``."""
    return _scrub(value, _needles(values))


def _scrub(value: Any, needles: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        for needle in needles:
            value = value.replace(needle, SCRUBBED)
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, needles) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, needles) for v in value]
    return value


def _contains(value: Any, needles: tuple[str, ...]) -> bool:
    if isinstance(value, str):
        return any(n in value for n in needles)
    if isinstance(value, dict):
        return any(_contains(v, needles) for v in value.values())
    if isinstance(value, list):
        return any(_contains(v, needles) for v in value)
    return False


async def _scrub_json_column(
    session: AsyncSession, model: Any, column: str, needles: tuple[str, ...], count: ScrubCount
) -> None:
    # Payloads may be sealed, so matching has to happen here, after decryption, not in SQL.
    last_id = 0
    while True:
        rows = list((await session.exec(
            select(model).where(col(model.id) > last_id).order_by(col(model.id)).limit(_PAGE)
        )).all())
        if not rows:
            return
        last_id = rows[-1].id
        for row in rows:
            value = getattr(row, column)
            if _contains(value, needles):
                setattr(row, column, _scrub(value, needles))
                flag_modified(row, column)
                session.add(row)
                count.add(model.__tablename__)
        await session.flush()


async def scrub_personal_values(
    *, session: AsyncSession, values: Iterable[str | None]
) -> ScrubCount:
    """Remove ``values`` (a person's phone, email, name) from every payload-like table.

    Half-typed referrals that quote them are dropped: a draft of an erased person is of no use.
    Values shorter than two characters are ignored, as they would scrub unrelated text.
    """
    needles = _needles(values)
    count = ScrubCount()
    if not needles:
        return count
    for model, column in ((Inbox, "payload"), (Outbox, "payload"),
                          (PendingInput, "params"), (ContactLookup, "mobiles")):
        await _scrub_json_column(session, model, column, needles, count)
    for draft in (await session.exec(select(ReferralDraft))).all():
        if _contains(draft.fields, needles):
            await session.delete(draft)
            count.add(ReferralDraft.__tablename__)
    await session.flush()
    return count


def _not_empty(column: Any) -> Any:
    # JSON has no equality operator on PostgreSQL; its text form does, on both databases.
    return cast(column, Text) != "{}"


async def prune_payloads(*, session: AsyncSession, handled_before: datetime) -> tuple[int, int]:
    """Empty the payloads of inbox events handled, and outbox messages sent, before the cut.

    The rows stay: the inbox row is what makes a late platform retry a duplicate, and the
    outbox row keeps its idempotency key. Returns (inbox rows, outbox rows) emptied.
    """
    inbox = await session.exec(
        update(Inbox)
        .where(col(Inbox.processed_at) < handled_before, _not_empty(Inbox.payload))
        .values(payload={})
    )
    outbox = await session.exec(
        update(Outbox)
        .where(col(Outbox.status) == OutboxStatus.SENT, col(Outbox.sent_at) < handled_before,
               _not_empty(Outbox.payload))
        .values(payload={})
    )
    return int(inbox.rowcount or 0), int(outbox.rowcount or 0)
