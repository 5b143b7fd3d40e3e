"""The talent pool: search by tags and words within a scope, manual tags, match candidates.

A word that is a known tag is matched through ``pool_tag`` (an index on tag + scope); any
other word is a substring of the entry's folded search text. Results come newest first and
the count stops at ``count_cap`` so a broad search costs no more than a narrow one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import PoolEntry, PoolTag, PositionWatch
from storage.repo.insight_stats import prefix_match
from storage.repo.insight_sync import upsert
from storage.sql import execute, table_of


def _escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def known_tags(*, session: AsyncSession, words: Sequence[str]) -> set[str]:
    """Which of ``words`` are tags some candidate carries.

    One probe per word that stops at the first tag row: a DISTINCT over the tag column
    would read every row of a common tag (hundreds of thousands in a large pool).
    """
    found = set()
    for word in dict.fromkeys(words):
        query = (
            select(col(PoolTag.tag))
            .where(col(PoolTag.tag) == word, col(PoolTag.source) != "hidden")
            .limit(1)
        )
        if (await execute(session, query)).first() is not None:
            found.add(word)
    return found


def _matches(key: str, tags: Sequence[str], words: Sequence[str]) -> Select[*tuple[Any, ...]]:
    """(candidate_id, updated_at) of every match; with tags, read from the tag index only."""
    pool = table_of(PoolEntry)
    tag_table = table_of(PoolTag)

    def tagged(tag: str) -> Any:
        t = tag_table.alias()
        return t, [t.c.tag == tag, prefix_match(t.c.org_key, key), t.c.source != "hidden"]

    if tags:
        first, conditions = tagged(tags[0])
        for tag in tags[1:]:
            other, more = tagged(tag)
            conditions.append(first.c.candidate_id.in_(select(other.c.candidate_id).where(*more)))
        query = select(first.c.candidate_id, first.c.updated_at).where(*conditions)
        if words:
            query = query.join(pool, pool.c.candidate_id == first.c.candidate_id)
    else:
        query = select(pool.c.candidate_id, pool.c.updated_at).where(
            prefix_match(pool.c.org_key, key)
        )
    for word in words:
        query = query.where(pool.c.search.like(f"%{_escape(word)}%", escape="\\"))
    return query


def newest_matches(
    *, key: str, tags: Sequence[str], words: Sequence[str], limit: int
) -> Select[*tuple[Any, ...]]:
    """The ids of the ``limit`` newest matches (the search's costly part; see EXPLAIN in
    bench/insight.py)."""
    matches = _matches(key, tags, words).subquery()
    return (
        select(matches.c.candidate_id)
        .order_by(matches.c.updated_at.desc(), matches.c.candidate_id.desc())
        .limit(limit)
    )


async def search_pool(
    *,
    session: AsyncSession,
    key: str,
    tags: Sequence[str],
    words: Sequence[str],
    limit: int = 10,
    count_cap: int = 1000,
) -> tuple[list[PoolEntry], int]:
    """Entries in scope ``key`` carrying every tag and containing every word, newest first.

    Returns:
        Up to ``limit`` entries, and the number of matches (``count_cap + 1`` means "more").
    """
    newest = newest_matches(key=key, tags=tags, words=words, limit=limit)
    query = (
        select(PoolEntry)
        .where(col(PoolEntry.candidate_id).in_(newest.scalar_subquery()))
        .order_by(col(PoolEntry.updated_at).desc(), col(PoolEntry.candidate_id).desc())
    )
    entries = list((await execute(session, query)).scalars().all())
    if len(entries) < limit:
        return entries, len(entries)
    capped = _matches(key, tags, words).limit(count_cap + 1).subquery()
    total = (await execute(session, select(func.count()).select_from(capped))).scalar_one()
    return entries, int(total)


async def top_tags(*, session: AsyncSession, key: str, limit: int = 12) -> list[tuple[str, int]]:
    """The most common tags in scope, for a search with no words."""
    n = func.count().label("n")
    query = (
        select(col(PoolTag.tag), n)
        .where(prefix_match(col(PoolTag.org_key), key), col(PoolTag.source) != "hidden")
        .group_by(col(PoolTag.tag))
        .order_by(n.desc(), col(PoolTag.tag))
        .limit(limit)
    )
    rows = (await execute(session, query)).all()
    return [(str(r[0]), int(r[1])) for r in rows]


async def get_pool_entry(*, session: AsyncSession, candidate_id: int) -> PoolEntry | None:
    return await session.get(PoolEntry, candidate_id, populate_existing=True)


async def add_manual_tags(
    *, session: AsyncSession, candidate_id: int, tags: Sequence[str], org_key: str,
    by: int | None, now: datetime,
) -> None:
    for tag in tags:
        await upsert(
            session, PoolTag,
            {"candidate_id": candidate_id, "tag": tag, "source": "manual", "org_key": org_key,
             "created_by": by, "created_at": now},
            ("candidate_id", "tag"),
            overwrite=("source", "created_by", "created_at"),
        )


async def remove_tags(
    *, session: AsyncSession, candidate_id: int, tags: Sequence[str], org_key: str,
    by: int | None, now: datetime,
) -> None:
    """Drop manual tags; a derived tag is hidden instead, so the next sync does not re-add it."""
    for tag in tags:
        await session.exec(
            delete(PoolTag).where(
                col(PoolTag.candidate_id) == candidate_id,
                col(PoolTag.tag) == tag,
                col(PoolTag.source) == "manual",
            )
        )
        await upsert(
            session, PoolTag,
            {"candidate_id": candidate_id, "tag": tag, "source": "hidden", "org_key": org_key,
             "created_by": by, "created_at": now},
            ("candidate_id", "tag"),
            overwrite=("source", "created_by", "created_at"),
        )


async def match_candidates(
    *, session: AsyncSession, key: str, exclude_states: Sequence[str], limit: int
) -> list[PoolEntry]:
    """Pool entries in scope who are free to be approached, newest first."""
    query = (
        select(PoolEntry)
        .where(
            prefix_match(col(PoolEntry.org_key), key),
            col(PoolEntry.status).not_in(list(exclude_states)),
        )
        .order_by(col(PoolEntry.updated_at).desc())
        .limit(limit)
    )
    return list((await execute(session, query)).scalars().all())


async def list_watches(*, session: AsyncSession) -> dict[int, PositionWatch]:
    rows = (await execute(session, select(PositionWatch))).scalars().all()
    return {w.position_id: w for w in rows}


async def save_watch(
    *, session: AsyncSession, position_id: int, is_open: bool, signature: str, now: datetime
) -> None:
    await upsert(
        session, PositionWatch,
        {"position_id": position_id, "open": is_open, "signature": signature, "updated_at": now},
        ("position_id",),
    )
