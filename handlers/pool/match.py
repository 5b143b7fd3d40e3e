"""Matching the talent pool against a position: the rule engine ranks, the card says why.

When a position opens (or comes in with an import), or its requirements or place change, HR
gets the pool candidates of the same region who meet most of its requirements. Candidates in
an open referral or already hired are not suggested.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.context import JobContext
from handlers.insight.facts import org_key
from handlers.referral.qualification import CandidateFacts, Outcome, check_requirements
from handlers.referral.views import work_entries
from storage.models import TERMINAL_STATES, DueItem, Position, ReferralState
from storage.repo.due import schedule_once
from storage.repo.insight_sync import all_positions, candidates_by_id, referrals_by_id
from storage.repo.people import nearest_with_role
from storage.repo.pool import list_watches, match_candidates, save_watch

SCAN = 500  # most recent pool entries of the region judged per suggestion
SHOW = 5
# Not to be approached for another job: in a referral now, or already working here.
BUSY = [s.value for s in ReferralState if s not in TERMINAL_STATES] + [ReferralState.HIRED.value]


def region_of(org_path: str) -> str:
    """The unit a position's candidates come from: its parent (the store's region)."""
    parts = [p for p in org_path.split("/") if p]
    return "/".join(parts[:-1] if len(parts) > 1 else parts)


def signature(position: Position) -> str:
    """What makes an opening: title, place and requirements (a change is a new opening)."""
    raw = json.dumps(
        [position.title, position.org_path, position.requirements],
        ensure_ascii=False, sort_keys=True,
    )
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


async def rank_pool(
    session: AsyncSession, position: Position, *, now: datetime, tz: ZoneInfo, scope: str = "",
    limit: int = SHOW,
) -> list[dict[str, Any]]:
    """The best pool candidates for ``position``: most requirements met, fewest unmet.

    Args:
        scope: Where to look (default: the position's region).
    """
    if not position.requirements:
        return []
    entries = await match_candidates(
        session=session, key=org_key(scope or region_of(position.org_path)),
        exclude_states=BUSY, limit=SCAN,
    )
    candidates = await candidates_by_id(session=session, ids=[e.candidate_id for e in entries])
    referrals = await referrals_by_id(
        session=session, ids=[e.referral_id for e in entries if e.referral_id]
    )
    today = now.astimezone(tz).date()
    ranked = []
    for order, entry in enumerate(entries):
        candidate = candidates.get(entry.candidate_id)
        if candidate is None:
            continue
        referral = referrals.get(entry.referral_id or 0)
        facts = CandidateFacts(
            work_history=work_entries(candidate), education=candidate.education,
            achievements="\n".join([candidate.achievements, referral.reason if referral else ""]),
        )
        try:
            verdicts = check_requirements(position.requirements, facts, today=today)
        except ValueError:
            return []
        met = [v for v in verdicts if v.outcome == Outcome.MET]
        if not met:
            continue
        unmet = [v for v in verdicts if v.outcome == Outcome.UNMET]
        ranked.append(((-len(met), len(unmet), order), {
            "candidate_id": entry.candidate_id, "name": candidate.name,
            "status": entry.status, "referral_id": entry.referral_id,
            "org": entry.org_key.rstrip("/"), "tags": list(entry.tags),
            "met": [_why(v) for v in met],
            "unmet": [v.label for v in unmet],
            "unknown": [v.label for v in verdicts if v.outcome == Outcome.UNKNOWN],
            "of": len(verdicts),
        }))
    ranked.sort(key=lambda pair: pair[0])
    return [view for _, view in ranked[:limit]]


def _why(verdict: Any) -> dict[str, Any]:
    return {"label": verdict.label, "kind": verdict.kind, "found": verdict.found,
            "required": verdict.required, "evidence": list(verdict.evidence)[:2]}


async def watch_positions(job: JobContext) -> bool:
    """Clock beat: schedule a pool suggestion for every position that opened or changed.

    The first run only records what is open, so a new deployment does not answer every
    existing position at once.
    """
    watches = await list_watches(session=job.session)
    baseline = not watches
    scheduled = False
    for position in (await all_positions(session=job.session)).values():
        pid = position.id or 0
        watch = watches.get(pid)
        if not position.open:
            if watch is not None and watch.open:
                await save_watch(session=job.session, position_id=pid, is_open=False,
                                 signature=watch.signature, now=job.now)
            continue
        sig = signature(position)
        if watch is not None and watch.open and watch.signature == sig:
            continue
        await save_watch(session=job.session, position_id=pid, is_open=True, signature=sig,
                         now=job.now)
        if baseline:
            continue
        scheduled |= await schedule_once(
            session=job.session,
            dedupe_key=f"pool.suggest:{pid}:{sig}:{job.now:%Y%m%d}",
            kind="pool.suggest",
            subject=f"position:{pid}",
            due_at=job.now,
            payload={"position_id": pid},
            now=job.now,
        )
    return scheduled


async def suggest_pool_candidates(job: JobContext, item: DueItem) -> None:
    """Tell the position's HR which pool candidates fit (nothing when none does)."""
    position = await job.session.get(Position, int(item.payload.get("position_id", 0)))
    if position is None or not position.open:
        return
    ranked = await rank_pool(job.session, position, now=job.now, tz=job.settings.tz)
    if not ranked:
        return
    hr = await nearest_with_role(session=job.session, role="hr", org_path=position.org_path)
    if hr is None:
        return
    job.notify(
        hr, "pool_suggest", key=f"pool-suggest-{item.id}",
        position={"title": position.title, "code": position.code, "org_path": position.org_path},
        rows=ranked, on_demand=False,
    )


DUE_HANDLERS = {"pool.suggest": suggest_pool_candidates}
