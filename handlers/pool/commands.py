"""The talent pool in chat: `人才库 零售经验 店长` searches, `标签 12 +零售经验` tags,
`人才库 匹配 店长` ranks the pool against a position.

Every referred candidate stays in the pool whatever became of the referral (declined, no-show,
rejected, hired); HR sees the part of it within their org scope, in their own chat even when
asking in a group (candidates' names are not for the group).
"""

from __future__ import annotations

from typing import Any

from bot.core.context import Context
from bot.core.errors import UserFacingError
from bot.core.routing import Router
from handlers.insight.facts import org_key
from handlers.insight.sync import catch_up, resync_candidates
from handlers.pool.match import DUE_HANDLERS as MATCH_DUE_HANDLERS
from handlers.pool.match import rank_pool, watch_positions
from handlers.pool.tags import fold
from handlers.referral.workflow import may_act
from storage.models import PoolEntry, Position, Referral
from storage.repo.insight_sync import all_positions, candidates_by_id, people_by_id
from storage.repo.people import in_scope
from storage.repo.pool import (
    add_manual_tags,
    get_pool_entry,
    known_tags,
    remove_tags,
    search_pool,
    top_tags,
)
from storage.repo.positions import find_open_positions

router = Router("pool")

READERS = frozenset({"hr", "hr_lead", "admin"})
SHOW = 10
MAX_TAGS, MAX_TAG_LEN = 10, 20
_MATCH = frozenset({"匹配", "match"})

__all__ = ["DUE_HANDLERS", "router", "watch_positions"]


async def _entry_views(ctx: Context, entries: list[PoolEntry]) -> list[dict[str, Any]]:
    """What the pool card shows of each entry (three queries, however many entries)."""
    candidates = await candidates_by_id(session=ctx.session, ids=[e.candidate_id for e in entries])
    people = await people_by_id(
        session=ctx.session, ids=[e.referrer_id for e in entries if e.referrer_id]
    )
    positions = await all_positions(session=ctx.session)
    views = []
    for entry in entries:
        candidate = candidates.get(entry.candidate_id)
        position = positions.get(entry.position_id or 0)
        referrer = people.get(entry.referrer_id or 0)
        views.append({
            "candidate_id": entry.candidate_id,
            "name": candidate.name if candidate else "",
            "status": entry.status,
            "referral_id": entry.referral_id,
            "position": position.title if position else "",
            "org": entry.org_key.rstrip("/"),
            "referrer": referrer.name if referrer else "",
            "tags": list(entry.tags),
            "updated_at": entry.updated_at,
        })
    return views


@router.command("人才库", "pool", "talent")
async def search_talent(ctx: Context) -> None:
    """`人才库 词…` — pool candidates in my scope carrying every tag / containing every word."""
    if not READERS & set(ctx.person.roles):
        raise UserFacingError("stats_forbidden", {"what": "pool"})
    words = ctx.args.split()
    if words and words[0].lower() in _MATCH:
        await _match(ctx, " ".join(words[1:]))
        return
    await catch_up(ctx.session, now=ctx.now, settings=ctx.settings)
    key = org_key(ctx.person.org_path)
    if not words:
        top = await top_tags(session=ctx.session, key=key)
        ctx.notify(ctx.person, "pool", query=[], rows=[], total=0, scope=ctx.person.org_path,
                   tags=top)
        return
    tags = await known_tags(session=ctx.session, words=words)
    others = [fold(w) for w in words if w not in tags]
    entries, total = await search_pool(
        session=ctx.session, key=key, tags=sorted(tags), words=others, limit=SHOW
    )
    ctx.notify(
        ctx.person, "pool", query=words, rows=await _entry_views(ctx, entries), total=total,
        scope=ctx.person.org_path, tags=[],
    )


async def _match(ctx: Context, word: str) -> None:
    positions = [
        p for p in await find_open_positions(session=ctx.session, word=word)
        if in_scope(ctx.person.org_path, p.org_path)
    ]
    if len(positions) != 1:
        choices = [f"{p.title}（{p.code}）" for p in positions]
        ctx.notify(ctx.person, "pool_suggest", position=None, rows=[], on_demand=True,
                   word=word, choices=choices)
        return
    await catch_up(ctx.session, now=ctx.now, settings=ctx.settings)
    position = positions[0]
    ranked = await rank_pool(ctx.session, position, now=ctx.now, tz=ctx.settings.tz)
    ctx.notify(
        ctx.person, "pool_suggest",
        position={"title": position.title, "code": position.code, "org_path": position.org_path},
        rows=ranked, on_demand=True, word=word, choices=[],
    )


@router.command("标签", "tag", "tags")
async def tag_candidate(ctx: Context) -> None:
    """`标签 12 零售经验 -团队管理` — add (or with "-" remove) tags on #12's candidate."""
    words = ctx.args.split()
    rid = words[0].lstrip("#") if words else ""
    changes = [w for w in words[1:] if w.strip("+-")]
    if not rid.isdigit() or not changes or len(changes) > MAX_TAGS:
        raise UserFacingError("pool_tagged", {"usage": True})
    referral = await ctx.session.get(Referral, int(rid))
    position = await ctx.session.get(Position, referral.position_id) if referral else None
    if referral is None or position is None:
        raise UserFacingError("not_found", {"referral_id": rid})
    if not may_act(ctx.person, frozenset({"hr"}), referral, position):
        raise UserFacingError("stats_forbidden", {"what": "tag"})
    add = [w.lstrip("+")[:MAX_TAG_LEN] for w in changes if not w.startswith("-")]
    drop = [w[1:][:MAX_TAG_LEN] for w in changes if w.startswith("-")]
    await catch_up(ctx.session, now=ctx.now, settings=ctx.settings)
    key = org_key(position.org_path)
    cid = referral.candidate_id
    await add_manual_tags(session=ctx.session, candidate_id=cid, tags=add, org_key=key,
                          by=ctx.person.id, now=ctx.now)
    await remove_tags(session=ctx.session, candidate_id=cid, tags=drop, org_key=key,
                      by=ctx.person.id, now=ctx.now)
    await resync_candidates(ctx.session, {cid}, ctx.now)
    entry = await get_pool_entry(session=ctx.session, candidate_id=cid)
    assert entry is not None
    [view] = await _entry_views(ctx, [entry])
    ctx.notify(ctx.person, "pool_tagged", usage=False, added=add, removed=drop, c=view)


DUE_HANDLERS = MATCH_DUE_HANDLERS
