"""View-models: what the card templates get to see about a referral (plain dicts)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from bot.core.context import Context, JobContext
from handlers.referral.qualification import CandidateFacts, WorkEntry, check_requirements
from storage.models import Candidate, Person, Position, Referral, ReferralEvent
from storage.repo.attachments import list_attachments
from storage.repo.audit import record_audit
from storage.repo.referrals import list_referral_events, stage_timestamps

# Cards must stay readable in chat: long free text is shortened on the card, kept whole in the DB.
CARD_TEXT_LIMIT = 300


def short(text: str, limit: int = CARD_TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def work_entries(candidate: Candidate) -> tuple[WorkEntry, ...]:
    entries = []
    for raw in candidate.work_history:
        end = raw.get("end")
        entries.append(
            WorkEntry(
                start=date.fromisoformat(raw["start"]),
                end=date.fromisoformat(end) if end else None,
                company=raw.get("company", ""),
                industry=raw.get("industry", ""),
                title=raw.get("title", ""),
            )
        )
    return tuple(entries)


def candidate_facts(candidate: Candidate, referral: Referral, notes: list[str]) -> CandidateFacts:
    text = "\n".join([candidate.achievements, referral.reason, *notes])
    return CandidateFacts(
        work_history=work_entries(candidate), education=candidate.education, achievements=text
    )


def _entry_text(raw: dict[str, Any]) -> str:
    start = raw["start"][:7].replace("-", ".")
    end = (raw.get("end") or "")[:7].replace("-", ".")
    parts = [
        f"{start}–{end or '…'}",
        raw.get("company", ""),
        raw.get("industry", ""),
        raw.get("title", ""),
    ]
    return " ".join(p for p in parts if p)


async def referral_view(ctx: Context | JobContext, referral: Referral) -> dict[str, Any]:
    session = ctx.session
    candidate = await session.get(Candidate, referral.candidate_id)
    position = await session.get(Position, referral.position_id)
    referrer = await session.get(Person, referral.referrer_id)
    assignee = await session.get(Person, referral.assignee_id) if referral.assignee_id else None
    assert candidate is not None and position is not None and referrer is not None
    events = await list_referral_events(session=session, referral_id=referral.id or 0)
    notes = [e.note for e in events if e.action == "referral.supplement" and e.note]
    checks = check_requirements(
        position.requirements,
        candidate_facts(candidate, referral, notes),
        today=ctx.now.astimezone(ctx.settings.tz).date(),
    )
    need_info = [e for e in events if e.action == "review.need_info"]
    return {
        "id": referral.id,
        "version": referral.version,
        "state": referral.state.value,
        "round": referral.interview_round,
        "reason": short(referral.reason),
        "no_show_reason": referral.no_show_reason or "",
        "due_at": referral.stage_due_at,
        "created_at": referral.created_at,
        "candidate": {
            "name": candidate.name,
            "phone": candidate.phone or "",
            "email": candidate.email or "",
            "education": candidate.education or "",
            "experience": [_entry_text(e) for e in candidate.work_history],
            "achievements": short(candidate.achievements),
            "consent": bool(candidate.consent),
        },
        "position": {"title": position.title, "org_path": position.org_path},
        "referrer": referrer.name,
        "assignee": assignee.name if assignee else "",
        "checks": [
            {**asdict(c), "outcome": c.outcome.value, "evidence": list(c.evidence)} for c in checks
        ],
        "supplements": [short(n) for n in notes],
        "requested_items": need_info[-1].data.get("items", []) if need_info else [],
        "timeline": timeline(events, ctx.now),
        "attachments": [
            {"id": a.id, "kind": a.kind, "filename": a.filename}
            for a in await list_attachments(session=session, referral_id=referral.id or 0)
        ],
    }


def timeline(events: list[ReferralEvent], now: datetime) -> list[dict[str, Any]]:
    """Each stage with when it began and how long it took (or has taken so far)."""
    rows = []
    for state, entered, left in stage_timestamps(events):
        end = left or now
        rows.append(
            {
                "state": state,
                "entered": entered,
                "done": left is not None,
                "minutes": max(0, int((end - entered).total_seconds() // 60)),
            }
        )
    return rows


def card_key(referral: Referral, name: str) -> str:
    return f"r{referral.id}v{referral.version}-{name}"


async def record_profile_shown(
    ctx: Context | JobContext, referral: Referral, reader: Person, via: str
) -> None:
    """Audit that ``reader`` was sent a card with the candidate's full profile (a read)."""
    event = getattr(ctx, "event", None)
    await record_audit(
        session=ctx.session, at=ctx.now, action="view", candidate_id=referral.candidate_id,
        referral_id=referral.id, actor_id=reader.id,
        platform=event.platform if event is not None else "", detail={"via": via},
    )
