"""Keeping the insight tables current: facts, checks, breaches, pool entries and bonuses.

Each clock beat (and each statistics or pool command, so answers are never behind) picks up
the referrals whose ``updated_at`` moved since the last run and rewrites what they contribute.
The cursor trails by a few minutes and rows already in step are skipped, so a transaction that
commits late with an older timestamp is still seen. One replica at a time does it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.context import JobContext, Settings
from handlers.insight.config import InsightConfig, load_config
from handlers.insight.facts import (
    STAGE_BITS,
    best_score,
    org_key,
    reached_bits,
    sla_breaches,
    stage_seconds,
    stage_visits,
)
from handlers.pool.tags import PoolFacts, derive_tags, search_text
from handlers.referral.qualification import check_requirements
from handlers.referral.views import candidate_facts, work_entries
from storage.models import Candidate, Position, Referral, ReferralEvent, ReferralState
from storage.repo import insight_sync as repo
from storage.repo.insight_settings import get_setting, prune_charts, set_setting, try_sync_lock

log = logging.getLogger("hrbot.insight")

CURSOR_KEY = "sync.cursor"
PROFILE_CURSOR_KEY = "sync.profiles"
# How far behind the newest synced update the next run starts looking.
OVERLAP = timedelta(minutes=10)
BATCH = 200
CHART_DAYS = 30


async def sync_insight(job: JobContext) -> bool:
    """Clock beat: catch up with one batch of changed referrals (never fails the beat)."""
    try:
        async with job.session.begin_nested():
            done = await sync_referrals(job.session, now=job.now, settings=job.settings)
            await prune_charts(session=job.session, before=job.now - timedelta(days=CHART_DAYS))
    except IntegrityError:
        # Another writer touched the same rows; the next beat picks them up again.
        log.warning("insight sync collided with a concurrent writer; retrying next beat")
        return False
    return done > 0


async def catch_up(session: AsyncSession, *, now: datetime, settings: Settings) -> None:
    """Sync before answering a question, so the answer includes the last few minutes.

    In a savepoint: a collision with another writer leaves the facts as the last beat made
    them (a few seconds old) instead of failing the question.
    """
    try:
        async with session.begin_nested():
            await sync_referrals(session, now=now, settings=settings, batches=5)
    except IntegrityError:
        log.warning("insight sync collided with a concurrent writer; answering from the facts")


async def sync_referrals(
    session: AsyncSession, *, now: datetime, settings: Settings, batches: int = 1
) -> int:
    """Sync up to ``batches`` batches of changed referrals; returns how many were synced."""
    if not await try_sync_lock(session=session):
        return 0
    loaded: tuple[InsightConfig, dict[int, Position]] | None = None
    total = 0
    profiles = await _changed_profiles(session, now)  # go with the first batch
    for _ in range(batches):
        raw = await get_setting(session=session, key=CURSOR_KEY)
        cursor = datetime.fromisoformat(raw) if isinstance(raw, str) else None
        since = cursor - OVERLAP if cursor else None
        referrals = await repo.changed_referrals(session=session, since=since, limit=BATCH)
        candidates = {r.candidate_id for r in referrals} | profiles
        profiles = set()
        if not candidates:
            break
        # Read only when there is work: most beats find nothing to do.
        loaded = loaded or (await load_config(session), await repo.all_positions(session=session))
        config, positions = loaded
        await _sync_batch(session, referrals, candidates, positions, settings, config, now)
        total += len(referrals)
        if referrals:
            newest = max(r.updated_at for r in referrals)
            if cursor is None or newest > cursor:
                await set_setting(session=session, key=CURSOR_KEY, value=newest.isoformat(),
                                  now=now)
        if len(referrals) < BATCH:
            break
    return total


async def _changed_profiles(session: AsyncSession, now: datetime) -> set[int]:
    raw = await get_setting(session=session, key=PROFILE_CURSOR_KEY)
    last = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    # Moved at most once a minute: the overlap covers the rest, and a beat need not write.
    if last is None or now - last >= timedelta(minutes=1):
        await set_setting(session=session, key=PROFILE_CURSOR_KEY, value=now.isoformat(), now=now)
    if last is None:
        return set()  # the first run syncs every referral, and their profiles with them
    return set(await repo.changed_profiles(session=session, since=last - OVERLAP))


async def _sync_batch(
    session: AsyncSession,
    referrals: list[Referral],
    candidate_ids: set[int],
    positions: dict[int, Position],
    settings: Settings,
    config: InsightConfig,
    now: datetime,
) -> None:
    by_candidate = await repo.referrals_of_candidates(session=session, candidate_ids=candidate_ids)
    events = await repo.events_by_referral(
        session=session, referral_ids=[r.id or 0 for r in referrals]
    )
    candidates = await repo.candidates_by_id(session=session, ids=candidate_ids)
    for referral in referrals:
        position = positions.get(referral.position_id)
        candidate = candidates.get(referral.candidate_id)
        if position is None or candidate is None:
            continue
        history = events.get(referral.id or 0, [])
        await _sync_referral(session, referral, history, position, candidate, settings)
        if referral.state == ReferralState.HIRED:
            await _ensure_bonus(
                session, referral, history, by_candidate.get(referral.candidate_id, []),
                position, config, now,
            )
    await _sync_pool(session, candidate_ids, candidates, by_candidate, positions, now)


async def _sync_referral(
    session: AsyncSession,
    referral: Referral,
    history: list[ReferralEvent],
    position: Position,
    candidate: Candidate,
    settings: Settings,
) -> None:
    rid = referral.id or 0
    key = org_key(position.org_path)
    visits = stage_visits(history)
    seconds = stage_seconds(visits)
    await repo.save_fact(session=session, values={
        "referral_id": rid, "org_key": key, "position_id": referral.position_id,
        "referrer_id": referral.referrer_id, "source": candidate.source or "",
        "state": referral.state.value, "created_at": referral.created_at,
        "closed_at": referral.closed_at, "reached": reached_bits(visits),
        **{f"{stage}_s": value for stage, value in seconds.items()},
        "score": best_score(history), "synced_at": referral.updated_at,
    })
    notes = [e.note for e in history if e.action == "referral.supplement" and e.note]
    # Judged as of the referral date: a job still held must not make old verdicts drift.
    today = referral.created_at.astimezone(settings.tz).date()
    try:
        verdicts = check_requirements(
            position.requirements, candidate_facts(candidate, referral, notes), today=today
        )
    except ValueError:  # a malformed requirement in the config: no verdicts to count
        verdicts = []
    hired = referral.state == ReferralState.HIRED
    await repo.replace_checks(session=session, referral_id=rid, rows=[
        {"org_key": key, "created_at": referral.created_at, "label": v.label,
         "outcome": v.outcome.value, "hired": hired}
        for v in {v.label: v for v in verdicts}.values()
    ])
    sla_of = {stage: settings.sla(stage, position.sla_hours) for stage in STAGE_BITS}
    await repo.replace_breaches(session=session, referral_id=rid, rows=[
        {"org_key": key, "stage": b.stage, "assignee_id": b.assignee_id, "entered_at": b.entered,
         "sla_s": int(b.sla.total_seconds()), "took_s": int(b.took.total_seconds())}
        for b in sla_breaches(visits, sla_of)
    ])


def credited_referral(
    hired: Referral, all_of_candidate: Iterable[Referral], days: int
) -> Referral:
    """Who gets the credit for a hire: the candidate's first referral if it was made within
    ``days`` before the hiring one, else the hiring referral itself."""
    earliest = min(all_of_candidate, key=lambda r: (r.created_at, r.id or 0), default=hired)
    if earliest.created_at >= hired.created_at - timedelta(days=days):
        return earliest
    return hired


async def _ensure_bonus(
    session: AsyncSession,
    referral: Referral,
    history: list[ReferralEvent],
    others: list[Referral],
    position: Position,
    config: InsightConfig,
    now: datetime,
) -> None:
    hired_at = next(
        (e.at for e in reversed(history) if e.to_state == ReferralState.HIRED),
        referral.closed_at or referral.updated_at,
    )
    first = credited_referral(referral, others or [referral], config.credit_days)
    await repo.ensure_bonus(session=session, values={
        "referral_id": referral.id, "candidate_id": referral.candidate_id,
        "referrer_id": first.referrer_id, "first_referral_id": first.id,
        "org_key": org_key(position.org_path), "hired_at": hired_at,
        "eligible_at": hired_at + timedelta(days=config.probation_days),
        "amount": config.bonus_amount, "status": "open", "created_at": now,
    })


async def _sync_pool(
    session: AsyncSession,
    candidate_ids: set[int],
    candidates: dict[int, Candidate],
    by_candidate: dict[int, list[Referral]],
    positions: dict[int, Position],
    now: datetime,
) -> None:
    """Rebuild the pool entry and derived tags of every candidate touched by the batch."""
    all_ids = [r.id or 0 for rs in by_candidate.values() for r in rs]
    facts = await repo.facts_by_referral(session=session, referral_ids=all_ids)
    events = await repo.events_by_referral(session=session, referral_ids=all_ids)
    referrer_ids = {r.referrer_id for rs in by_candidate.values() for r in rs}
    people = await repo.people_by_id(session=session, ids=referrer_ids)
    profiles = await repo.profiles_by_candidate(session=session, candidate_ids=candidate_ids)
    tags = await repo.tags_by_candidate(session=session, candidate_ids=candidate_ids)
    for cid in sorted(candidate_ids):
        candidate, referrals = candidates.get(cid), by_candidate.get(cid, [])
        if candidate is None or not referrals:
            continue
        latest = referrals[-1]
        position = positions.get(latest.position_id)
        key = org_key(position.org_path if position else "")
        states: set[str] = set()
        scores: list[int] = []
        notes: list[str] = []
        for r in referrals:
            fact = facts.get(r.id or 0)
            if fact is not None:
                states |= {s for s, bit in STAGE_BITS.items() if fact.reached & bit}
                scores += [fact.score] if fact.score is not None else []
            notes.append(r.reason)
            notes += [
                e.note for e in events.get(r.id or 0, []) if e.action == "referral.supplement"
            ]
        profile = profiles.get(cid)
        pool_facts = PoolFacts(
            work=work_entries(candidate),
            education=candidate.education,
            text="\n".join([candidate.achievements, *notes]),
            referrer_roles=frozenset(
                role for r in referrals for role in people[r.referrer_id].roles
                if r.referrer_id in people
            ),
            states=frozenset(states),
            best_score=max(scores) if scores else None,
            extra=tuple(profile.tags) if profile else (),
        )
        own = tags.get(cid, [])
        hidden = {t.tag for t in own if t.source == "hidden"}
        derived = [t for t in derive_tags(pool_facts) if t not in hidden]
        updated_at = max(r.updated_at for r in referrals)
        await repo.replace_derived_tags(
            session=session, candidate_id=cid, tags=derived, org_key=key,
            updated_at=updated_at, now=now,
        )
        manual = [t.tag for t in own if t.source == "manual" and t.tag not in derived]
        shown = [*derived, *manual]
        titles = [positions[r.position_id].title for r in referrals if r.position_id in positions]
        await repo.save_pool_entry(session=session, values={
            "candidate_id": cid, "org_key": key,
            "status": "pooled" if profile and profile.source == "pool" and latest.closed_at
            else latest.state.value,
            "referral_id": latest.id, "position_id": latest.position_id,
            "referrer_id": latest.referrer_id, "tags": shown,
            "search": search_text(
                name=candidate.name, tags=shown, positions=titles,
                work=work_entries(candidate), education=candidate.education,
            ),
            "updated_at": updated_at,
        })


async def resync_candidates(session: AsyncSession, candidate_ids: set[int], now: datetime) -> None:
    """Rebuild the pool entries of these candidates now (after HR changed their tags)."""
    by_candidate = await repo.referrals_of_candidates(session=session, candidate_ids=candidate_ids)
    candidates = await repo.candidates_by_id(session=session, ids=candidate_ids)
    positions = await repo.all_positions(session=session)
    await _sync_pool(session, candidate_ids, candidates, by_candidate, positions, now)
